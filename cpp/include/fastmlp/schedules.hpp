// Learning-rate schedules, applied once per epoch. `epoch` counts every epoch
// the model has trained, across fit calls (so warm starts continue a decay).
//   constant          lr = lr0
//   step_decay        lr = lr0 * gamma^floor(epoch / step_size)
//   exponential       lr = lr0 * gamma^epoch
//   inverse_scaling   lr = lr0 / (epoch + 1)^power
//   reduce_on_plateau lr *= factor (not below min_lr) when the monitored loss has not
//                     improved by more than min_delta for `patience` epochs
//   cosine            linear warm-up, then cosine decay to min_lr:
//                     epoch < W:  lr = lr0 (epoch + 1) / W                  (W = warmup_epochs)
//                     else        lr = min_lr + (lr0 - min_lr) (1 + cos(pi min(epoch - W, D) / D)) / 2
//                     (D = decay_epochs; after W + D epochs lr stays min_lr)
#pragma once

#include <string>

#include "fastmlp/types.hpp"

namespace fastmlp {

enum class ScheduleKind { Constant, StepDecay, Exponential, InverseScaling, ReduceOnPlateau, Cosine };
ScheduleKind schedule_from_name(const std::string& name);
const char* schedule_name(ScheduleKind kind);

struct Schedule {
  ScheduleKind kind = ScheduleKind::Constant;
  Index step_size = 10;
  double gamma = 0.1;
  double power = 0.5;
  double factor = 0.1;
  Index patience = 10;
  double min_delta = 1e-4;
  double min_lr = 0.0;
  bool monitor_validation = false;  // reduce_on_plateau watches val_loss instead of loss
  Index warmup_epochs = 0;          // cosine
  Index decay_epochs = 100;         // cosine
};

// A schedule of this kind with its default parameters (the one place they are set;
// exponential decay's gamma is 0.95, step decay's 0.1).
Schedule schedule_defaults(ScheduleKind kind);

// Throws std::invalid_argument for out-of-range parameters.
void validate_schedule(const Schedule& s);

class LrScheduler {
 public:
  LrScheduler(const Schedule& s, double lr0);
  // The learning rate for this epoch.
  double lr(Index epoch) const;
  // Tell a plateau schedule the monitored loss at the end of an epoch.
  void end_epoch(double monitored);

 private:
  Schedule s_;
  double lr0_, plateau_lr_, best_;
  Index wait_ = 0;
};

}  // namespace fastmlp
