// A plan as cellrt's tables (cellrt::SequencePlan), owned: what the reference interpreter
// hands to the executor in process, and what the glue writer prints into a library.
#pragma once

#include "compiler/plan/Planner.h"

#include <deque>
#include <string>
#include <vector>

namespace cellc::plan {

class RuntimePlan {
public:
  /// `entries[k]` is kernel k's compiled entry point, or empty for an in-process invoker.
  explicit RuntimePlan(const Plan &plan, std::vector<cellrt::KernelEntry> entries = {});
  RuntimePlan(const RuntimePlan &) = delete;

  const cellrt::SequencePlan &tables() const { return plan_; }
  const std::vector<cellrt::BufferDecl> &buffers() const { return buffers_; }
  const std::vector<cellrt::ArgDecl> &args() const { return args_; }
  const std::vector<cellrt::KernelDecl> &kernels() const { return kernels_; }

private:
  cellrt::Program program(const Program &p, std::vector<cellrt::Step> &steps);

  std::deque<std::string> strings_; // stable addresses for the tables' names
  std::vector<cellrt::BufferDecl> buffers_;
  std::vector<cellrt::ArgDecl> args_;
  std::vector<cellrt::KernelDecl> kernels_;
  std::vector<cellrt::Step> inference_, training_, backward_;
  std::vector<cellrt::PortDecl> ports_;
  cellrt::SequencePlan plan_{};
};

/// A size as cellrt's affine expression over the shape {T, B, dims...}. Throws
/// std::length_error when it combines more than cellrt::kMaxSizeTerms dims.
cellrt::SizeExpr sizeExpr(const Size &s, const std::vector<std::string> &dims);

/// A port's elements per sample; constant -1 where it has none or is not affine.
cellrt::SizeExpr portLen(const Port &port, const std::vector<std::string> &dims);

} // namespace cellc::plan
