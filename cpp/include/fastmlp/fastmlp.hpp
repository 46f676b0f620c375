// fastmlp: multi-layer perceptrons on Eigen. Include this one header.
#pragma once

#include "fastmlp/activations.hpp"
#include "fastmlp/cpu.hpp"
#include "fastmlp/cuda.hpp"
#include "fastmlp/engine.hpp"
#include "fastmlp/gemm.hpp"
#include "fastmlp/gemm_bf16.hpp"
#include "fastmlp/losses.hpp"
#include "fastmlp/network.hpp"
#include "fastmlp/optimizers.hpp"
#include "fastmlp/random.hpp"
#include "fastmlp/schedules.hpp"
#include "fastmlp/serialize.hpp"
#include "fastmlp/threads.hpp"
#include "fastmlp/trainer.hpp"
#include "fastmlp/types.hpp"
