#include "fastmlp/schedules.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace fastmlp {

ScheduleKind schedule_from_name(const std::string& name) {
  if (name == "constant") return ScheduleKind::Constant;
  if (name == "step_decay") return ScheduleKind::StepDecay;
  if (name == "exponential") return ScheduleKind::Exponential;
  if (name == "inverse_scaling" || name == "invscaling") return ScheduleKind::InverseScaling;
  if (name == "reduce_on_plateau" || name == "adaptive") return ScheduleKind::ReduceOnPlateau;
  throw std::invalid_argument("unknown schedule '" + name +
                              "' (expected constant, step_decay, exponential, inverse_scaling, reduce_on_plateau)");
}

const char* schedule_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::Constant: return "constant";
    case ScheduleKind::StepDecay: return "step_decay";
    case ScheduleKind::Exponential: return "exponential";
    case ScheduleKind::InverseScaling: return "inverse_scaling";
    case ScheduleKind::ReduceOnPlateau: return "reduce_on_plateau";
  }
  return "?";
}

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
