#include "compiler/plan/RuntimePlan.h"

#include <algorithm>
#include <stdexcept>

namespace cellc::plan {

cellrt::SizeExpr sizeExpr(const Size &s, const std::vector<std::string> &dims) {
  cellrt::SizeExpr e;
  e.constant = s.constantPart();
  for (auto &[d, k] : s.terms()) {
    if (e.terms == cellrt::kMaxSizeTerms)
      throw std::length_error("the size " + s.str() + " combines more than " +
                              std::to_string(cellrt::kMaxSizeTerms) + " dims");
    int index = int(std::find(dims.begin(), dims.end(), d) - dims.begin());
    e.term[e.terms++] = {2 + index, k};
  }
  return e;
}

cellrt::SizeExpr portLen(const Port &port, const std::vector<std::string> &dims) {
  cellrt::SizeExpr none;
  none.constant = -1;
  if (!port.len || port.len->terms().size() > size_t(cellrt::kMaxSizeTerms))
    return none;
  return sizeExpr(*port.len, dims);
}

RuntimePlan::RuntimePlan(const Plan &p, std::vector<cellrt::KernelEntry> entries) {
  auto keep = [&](const std::string &s) { return strings_.emplace_back(s).c_str(); };
  for (const Buffer &b : p.buffers)
    buffers_.push_back({keep(b.label), b.storage, b.index, b.extent, sizeExpr(b.len, p.dims),
                        sizeExpr(b.cols, p.dims), b.optional, b.pingPong, cellrt::Memory::Host});
  for (size_t k = 0; k < p.kernels.size(); ++k) {
    const Kernel &kd = p.kernels[k];
    int first = int(args_.size());
    for (const auto *list : {&kd.inputs, &kd.outputs})
      for (const Arg &a : *list)
        args_.push_back({a.binding.buffer, a.binding.view, a.binding.slot, a.binding.rank});
    kernels_.push_back({keep(kd.name), kd.kind, first, int(args_.size()) - first,
                        k < entries.size() ? entries[k] : nullptr});
  }
  plan_.cell = keep(p.cell);
  plan_.shapeRank = 2 + int(p.dims.size());
  plan_.packPadding = p.packPadding;
  plan_.buffers = buffers_.data();
  plan_.bufferCount = int(buffers_.size());
  plan_.args = args_.data();
  plan_.kernels = kernels_.data();
  plan_.kernelCount = int(kernels_.size());
  plan_.inference = program(p.inference, inference_);
  plan_.training = program(p.training, training_);
  plan_.backward = program(p.backward, backward_);
  plan_.forwardIn = p.forwardIn;
  plan_.forwardOut = p.forwardOut;
  plan_.backwardIn = p.backwardIn;
  plan_.backwardOut = p.backwardOut;
  for (const Port &port : p.ports)
    ports_.push_back({keep(port.tensor), port.kind, port.backward, port.written, port.index,
                      portLen(port, p.dims)});
  plan_.ports = ports_.data();
  plan_.portCount = int(ports_.size());
}

cellrt::Program RuntimePlan::program(const Program &p, std::vector<cellrt::Step> &steps) {
  steps = p.steps;
  return {strings_.emplace_back(p.name).c_str(), steps.data(), int(steps.size())};
}

} // namespace cellc::plan
