#include "fastmlp/schedules.hpp"
#include "fastmlp/names.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace fastmlp {

namespace {
constexpr Named<ScheduleKind> kSchedules[] = {
    {ScheduleKind::Constant, "constant"},         {ScheduleKind::StepDecay, "step_decay"},
    {ScheduleKind::Exponential, "exponential"},   {ScheduleKind::InverseScaling, "inverse_scaling"},
    {ScheduleKind::InverseScaling, "invscaling"}, {ScheduleKind::ReduceOnPlateau, "reduce_on_plateau"},
    {ScheduleKind::ReduceOnPlateau, "adaptive"},  {ScheduleKind::Cosine, "cosine"},
    {ScheduleKind::Cosine, "cosine_decay"}};
}  // namespace

ScheduleKind schedule_from_name(const std::string& name) { return from_name(kSchedules, name, "schedule"); }
const char* schedule_name(ScheduleKind kind) { return name_of(kSchedules, kind); }

Schedule schedule_defaults(ScheduleKind kind) {
  Schedule s;
  s.kind = kind;
  if (kind == ScheduleKind::Exponential) s.gamma = 0.95;
  return s;
}

void validate_schedule(const Schedule& s) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("schedule: " + what); };
  if (s.step_size < 1) fail("step_size must be >= 1, got " + std::to_string(s.step_size));
  if (!(s.gamma > 0.0 && s.gamma <= 1.0)) fail("gamma must be in (0, 1], got " + std::to_string(s.gamma));
  if (!(s.power >= 0.0 && std::isfinite(s.power))) fail("power must be a finite number >= 0");
  if (!(s.factor > 0.0 && s.factor < 1.0)) fail("factor must be in (0, 1), got " + std::to_string(s.factor));
  if (s.patience < 1) fail("patience must be >= 1, got " + std::to_string(s.patience));
  if (!(s.min_delta >= 0.0 && std::isfinite(s.min_delta))) fail("min_delta must be a finite number >= 0");
  if (!(s.min_lr >= 0.0 && std::isfinite(s.min_lr))) fail("min_lr must be a finite number >= 0");
  if (s.warmup_epochs < 0) fail("warmup_epochs must be >= 0, got " + std::to_string(s.warmup_epochs));
  if (s.decay_epochs < 1) fail("decay_epochs must be >= 1, got " + std::to_string(s.decay_epochs));
}

LrScheduler::LrScheduler(const Schedule& s, double lr0)
    : s_(s), lr0_(lr0), plateau_lr_(lr0), best_(std::numeric_limits<double>::infinity()) {
  validate_schedule(s);
}

double LrScheduler::lr(Index epoch) const {
  const double e = double(epoch);
  switch (s_.kind) {
    case ScheduleKind::Constant: return lr0_;
    case ScheduleKind::StepDecay: return lr0_ * std::pow(s_.gamma, double(epoch / s_.step_size));
    case ScheduleKind::Exponential: return lr0_ * std::pow(s_.gamma, e);
    case ScheduleKind::InverseScaling: return lr0_ / std::pow(e + 1.0, s_.power);
    case ScheduleKind::ReduceOnPlateau: return plateau_lr_;
    case ScheduleKind::Cosine: {
      if (epoch < s_.warmup_epochs) return lr0_ * (e + 1.0) / double(s_.warmup_epochs);
      const double t = double(std::min(epoch - s_.warmup_epochs, s_.decay_epochs)) / double(s_.decay_epochs);
      const double floor = std::min(s_.min_lr, lr0_);
      return floor + (lr0_ - floor) * 0.5 * (1.0 + std::cos(M_PI * t));
    }
  }
  return lr0_;
}

void LrScheduler::end_epoch(double monitored) {
  if (s_.kind != ScheduleKind::ReduceOnPlateau) return;
  if (monitored < best_ - s_.min_delta) {
    best_ = monitored;
    wait_ = 0;
  } else if (++wait_ >= s_.patience) {
    plateau_lr_ = std::max(plateau_lr_ * s_.factor, s_.min_lr);
    wait_ = 0;
  }
}

}  // namespace fastmlp
