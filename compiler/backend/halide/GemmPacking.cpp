#include "compiler/backend/halide/GemmPacking.h"

#include <map>

namespace cellc::backend {

using plan::Use;

namespace {

/// The programs that run kernel k.
std::vector<plan::Program *> programsOf(plan::Plan &p, int k) {
  std::vector<plan::Program *> out;
  for (plan::Program *prog : {&p.inference, &p.training, &p.backward})
    for (const cellrt::Step &s : prog->steps)
      if ((s.kind == cellrt::StepKind::RunKernel || s.kind == cellrt::StepKind::Loop) &&
          s.kernel == k) {
        out.push_back(prog);
        break;
      }
  return out;
}

} // namespace

void packGemmOperands(plan::Plan &p, int64_t padding) {
  p.packPadding = padding;
  std::map<std::string, int> packed; // by name: one slot per param and use
  // Pack steps per program, in the order first needed, each (src, dst) once.
  std::map<plan::Program *, std::vector<cellrt::Step>> packs;
  for (size_t k = 0; k < p.kernels.size(); ++k) {
    for (plan::Arg &a : p.kernels[k].inputs) {
      if (a.role != plan::Role::Param || a.use == Use::Values)
        continue;
      const bool transpose = a.use == Use::MatVecMatrix; // A = W: [rows][cols], M = rows
      const ir::Type &t = a.type;
      std::string name = "packed " + a.name + (transpose ? "" : "^T");
      auto it = packed.find(name);
      if (it == packed.end()) {
        plan::Buffer b{name,
                       name,
                       cellrt::Storage::Workspace,
                       -1,
                       cellrt::Extent::Packed,
                       transpose ? t.cols : t.rows,
                       transpose ? t.rows : t.cols};
        it = packed.emplace(name, p.addBuffer(b)).first;
      }
      cellrt::Step pack{
          cellrt::StepKind::Pack,    -1, a.binding.buffer, it->second, transpose, 0.0f,
          cellrt::Direction::Forward};
      for (plan::Program *prog : programsOf(p, int(k))) {
        bool seen = false;
        for (const cellrt::Step &s : packs[prog])
          seen = seen || (s.src == pack.src && s.dst == pack.dst);
        if (!seen)
          packs[prog].push_back(pack);
      }
      a.binding = {it->second, cellrt::ViewKind::Packed, cellrt::Slot::All, 2};
    }
  }
  for (auto &[prog, steps] : packs)
    prog->steps.insert(prog->steps.begin(), steps.begin(), steps.end());
}

} // namespace cellc::backend
