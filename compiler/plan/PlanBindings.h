// Binds a plan's kernel arguments to buffers and writes the programs the executor runs
// (called by makePlan; see Planner.h).
#pragma once

#include "compiler/plan/Planner.h"

namespace cellc::plan {

void bindPlan(const ir::Cell &cell, Plan &plan);

} // namespace cellc::plan
