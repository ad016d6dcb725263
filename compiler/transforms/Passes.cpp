#include "compiler/transforms/Passes.h"

#include "compiler/ir/Builder.h"

namespace cellc::ir {

/// Re-creates every node of `f` through a Builder with the given options.
static Function rebuild(const Function &f, Builder::Options opts) {
  Function out;
  Builder b(out, opts);
  std::vector<ValueId> map(f.nodes.size(), -1);
  for (size_t i = 0; i < f.nodes.size(); ++i) {
    std::vector<ValueId> ops;
    for (ValueId o : f.nodes[i].operands)
      ops.push_back(map[o]);
    map[i] = b.clone(f.nodes[i], ops);
  }
  for (const Result &r : f.results)
    out.results.push_back({r.kind, r.name, map[r.value]});
  return removeDeadCode(out);
}

Function removeDeadCode(const Function &f) {
  // 1. Mark what the results reach, walking ids downwards (operands come first).
  std::vector<bool> live(f.nodes.size(), false);
  for (const Result &r : f.results)
    live[r.value] = true;
  for (size_t i = f.nodes.size(); i-- > 0;) {
    Op op = f.nodes[i].op;
    if (op == Op::Input || op == Op::State || op == Op::Param)
      live[i] = true;
    if (live[i])
      for (ValueId o : f.nodes[i].operands)
        live[o] = true;
  }
  // 2. Copy the live nodes in order, renumbering operands.
  Function out;
  std::vector<ValueId> map(f.nodes.size(), -1);
  for (size_t i = 0; i < f.nodes.size(); ++i) {
    if (!live[i])
      continue;
    Node n = f.nodes[i];
    for (ValueId &o : n.operands)
      o = map[o];
    map[i] = out.add(std::move(n));
  }
  for (const Result &r : f.results)
    out.results.push_back({r.kind, r.name, map[r.value]});
  return out;
}

Function canonicalize(const Function &f) { return rebuild(f, {/*fold=*/true, /*cse=*/false}); }

Function eliminateCommonSubexpressions(const Function &f) {
  return rebuild(f, {/*fold=*/false, /*cse=*/true});
}

Function simplify(const Function &f) {
  // Folding can expose duplicates and merging can expose folds (a concat of two slices of
  // one value only merges once both slices are the same node), so run both together once
  // more.
  return rebuild(eliminateCommonSubexpressions(canonicalize(f)), {true, true});
}

} // namespace cellc::ir
