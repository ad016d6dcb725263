#include "compiler/abi/Signature.h"

#include "compiler/ir/IR.h"

#include <cctype>
#include <cstdio>
#include <sstream>

namespace cellc::abi {

Names namesOf(Role role, const std::string &t) {
  switch (role) {
  case Role::Input:
    return {t, t + ".npy", "input " + t, ""};
  case Role::Param:
    return {t, t + ".npy", "param " + t, ""};
  case Role::Output:
    return {t, t + ".npy", "output " + t, ""};
  case Role::InitState:
    return {t + "_init", t + ".init.npy", "initial state " + t, "the initial value of"};
  case Role::FinalState:
    return {t + "_final", t + ".final.npy", "final state " + t, "the final value of"};
  case Role::OutputGrad:
    return {"grad_" + t, "grad_" + t + ".npy", "gradient of output " + t, "the gradient of"};
  case Role::FinalStateGrad:
    return {"grad_" + t + "_final", "grad_" + t + ".final.npy", "gradient of final state " + t,
            "the gradient of the final value of"};
  case Role::InputGrad:
    return {"grad_" + t, "grad_" + t + ".npy", "gradient of input " + t, "the gradient of"};
  case Role::InitStateGrad:
    return {"grad_" + t + "_init", "grad_" + t + ".init.npy", "gradient of initial state " + t,
            "the gradient of the initial value of"};
  case Role::ParamGrad:
    return {"grad_" + t, "grad_" + t + ".npy", "gradient of param " + t, "the gradient of"};
  }
  return {};
}

std::vector<Role> rolesOf(TensorKind kind) {
  switch (kind) {
  case TensorKind::Input:
    return {Role::Input, Role::InputGrad};
  case TensorKind::State:
    return {Role::InitState, Role::FinalState, Role::InitStateGrad, Role::FinalStateGrad};
  case TensorKind::Param:
    return {Role::Param, Role::ParamGrad};
  case TensorKind::Output:
    return {Role::Output, Role::OutputGrad};
  }
  return {};
}

std::vector<const Row *> Signature::select(Call c, bool written) const {
  std::vector<const Row *> out;
  for (const Row &r : rows(c))
    if (r.written == written)
      out.push_back(&r);
  return out;
}

const Row *Signature::find(Call c, Role role, const std::string &tensor) const {
  for (const Row &r : rows(c))
    if (r.role == role && r.tensor == tensor)
      return &r;
  return nullptr;
}

std::optional<int64_t> Signature::elements(const Row &r, int64_t T, int64_t B,
                                           const DimValues &dims) const {
  int64_t n = r.layout == Layout::Sequence ? T * B : r.layout == Layout::Batch ? B : 1;
  if (r.copies > 0 && __builtin_mul_overflow(n, r.copies, &n))
    return std::nullopt;
  for (const Size &s : r.shape) {
    std::optional<int64_t> v = s.evaluate(dims);
    if (!v || __builtin_mul_overflow(n, *v, &n))
      return std::nullopt;
  }
  return n;
}

namespace {

/// `s` with `dim` replaced by the size `by`.
std::optional<Size> substituted(const Size &s, const std::string &dim, const Size &by) {
  std::optional<Size> out = Size::constant(s.constantPart());
  for (auto &[d, k] : s.terms()) {
    std::optional<Size> term = d == dim ? by.scaled(k) : Size::symbol(d).scaled(k);
    out = out && term ? out->plus(*term) : std::nullopt;
  }
  return out;
}

/// The size of the input's dim in each layer: layer l > 0 reads D times layer l-1's first
/// output. Empty, with `error`, when the input is not sized by one dim.
std::vector<Size> inputSizes(const Signature &s, int64_t layers, int64_t directions,
                             std::string &dim, std::string &error) {
  const Row *x = nullptr, *y = nullptr;
  int inputs = 0;
  for (const Row &r : s.forward) {
    if (r.role == Role::Input)
      x = x ? x : &r, ++inputs;
    if (r.role == Role::Output && !y)
      y = &r;
  }
  if (inputs != 1 || !y) {
    error = "a stack of layers needs a cell with one input and an output";
    return {};
  }
  const Size &n = x->shape.size() == 1 ? x->shape[0] : Size::constant(0);
  if (n.constantPart() != 0 || n.terms().size() != 1 || n.terms().begin()->second != 1) {
    error = "a stack of layers needs the input's size to be one dim (" + x->tensor +
            "[I]), so that layer 1 can bind it to the output's";
    return {};
  }
  dim = n.terms().begin()->first;
  std::vector<Size> sizes = {n};
  for (int64_t l = 1; l < layers; ++l) {
    std::optional<Size> next =
        y->shape.size() == 1 ? substituted(y->shape[0], dim, sizes.back()) : std::nullopt;
    next = next ? next->scaled(directions) : std::nullopt;
    if (!next) {
      error = "a stack of layers needs a one-dimensional first output";
      return {};
    }
    sizes.push_back(*next);
  }
  return sizes;
}

/// A row for layer l in direction d of a stack.
Row layerRow(const Row &r, int64_t l, int64_t d, const std::string &dim, const Size &size) {
  Row out = r;
  out.tensor = r.tensor + "_l" + std::to_string(l) + (d ? "_reverse" : "");
  out.names = namesOf(r.role, out.tensor);
  for (Size &s : out.shape)
    s = *substituted(s, dim, size);
  return out;
}

} // namespace

std::optional<Signature> stacked(const Signature &s, int64_t layers, int64_t directions,
                                 std::string &error) {
  if (layers * directions == 1)
    return s;
  std::string dim;
  std::vector<Size> sizes = {Size()};
  if (layers > 1 && (sizes = inputSizes(s, layers, directions, dim, error)).empty())
    return std::nullopt;
  Signature out = s;
  for (auto *rows : {&out.forward, &out.backward}) {
    std::vector<Row> expanded;
    int next[2] = {0, 0}; // read, written
    for (const Row &r : *rows) {
      int &position = next[r.written];
      if (r.role != Role::Param && r.role != Role::ParamGrad) {
        Row copy = r;
        copy.position = position++;
        if (r.layout == Layout::Batch)
          copy.copies = layers * directions;
        if (r.role == Role::Output || r.role == Role::OutputGrad) {
          if (r.shape.size() != 1) {
            error = "both directions need one-dimensional outputs; " + r.tensor + " has " +
                    std::to_string(r.shape.size()) + " dims";
            return std::nullopt;
          }
          copy.shape[0] = *r.shape[0].scaled(directions);
        }
        expanded.push_back(copy);
        continue;
      }
      for (int64_t l = 0; l < layers; ++l)
        for (int64_t d = 0; d < directions; ++d) {
          expanded.push_back(layerRow(r, l, d, dim, sizes[size_t(l)]));
          expanded.back().position = position++;
        }
    }
    *rows = expanded;
  }
  return out;
}

namespace {

std::vector<Size> shapeOf(const ir::Type &t) {
  std::vector<Size> s;
  if (t.rank >= 1)
    s.push_back(t.rows);
  if (t.rank == 2)
    s.push_back(t.cols);
  return s;
}

/// Appends the rows of one call: reads first, then writes, each numbered from 0.
class CallBuilder {
public:
  explicit CallBuilder(std::vector<Row> &rows) : rows_(rows) {}
  void add(Role role, bool written, const ir::TensorDecl &t, Layout layout, bool optional = false) {
    int &next = written ? writes_ : reads_;
    std::vector<Size> shape = shapeOf(t.type);
    if (layout != Layout::Declared && shape.empty())
      shape.push_back(Size::constant(1)); // a per-sample scalar is a vector of one
    rows_.push_back({role, written, next++, t.name, namesOf(role, t.name), layout, shape, optional,
                     role == Role::InitState ? t.init : 0.0});
  }

private:
  std::vector<Row> &rows_;
  int reads_ = 0, writes_ = 0;
};

} // namespace

Signature signatureOf(const ir::Cell &c) {
  Signature s;
  s.cell = c.name;
  s.dims = c.dims;
  s.fixedDims = c.fixedDims;
  CallBuilder f(s.forward);
  for (auto &x : c.inputs)
    f.add(Role::Input, false, x, Layout::Sequence);
  for (auto &st : c.states)
    f.add(Role::InitState, false, st, Layout::Batch, true);
  for (auto &p : c.params)
    f.add(Role::Param, false, p, Layout::Declared);
  for (auto &y : c.outputs)
    f.add(Role::Output, true, y, Layout::Sequence);
  for (auto &st : c.states)
    f.add(Role::FinalState, true, st, Layout::Batch);

  CallBuilder b(s.backward);
  for (auto &x : c.inputs)
    b.add(Role::Input, false, x, Layout::Sequence);
  for (auto &p : c.params)
    b.add(Role::Param, false, p, Layout::Declared);
  for (auto &y : c.outputs)
    b.add(Role::OutputGrad, false, y, Layout::Sequence);
  for (auto &st : c.states)
    b.add(Role::FinalStateGrad, false, st, Layout::Batch, true);
  for (auto &x : c.inputs)
    b.add(Role::InputGrad, true, x, Layout::Sequence);
  for (auto &st : c.states)
    b.add(Role::InitStateGrad, true, st, Layout::Batch);
  for (auto &p : c.params)
    b.add(Role::ParamGrad, true, p, Layout::Declared);
  return s;
}

// ---- Text form -------------------------------------------------------------------------
//
//   cellc-signature 1
//   cell lstm
//   dims I H
//   fixed
//   forward read 0 input x sequence 0 0 I
//   ...
// One row per line: call, read|write, position, role, tensor, layout, optional, fill, shape.
// Sizes are written without spaces ("4*H+I-1").

namespace {

const char *const kRoleWords[] = {
    "input",       "init_state",       "param",      "output",          "final_state",
    "output_grad", "final_state_grad", "input_grad", "init_state_grad", "param_grad"};
const char *const kLayoutWords[] = {"sequence", "batch", "declared"};

std::string sizeText(const Size &s) {
  std::string out;
  for (auto &[d, k] : s.terms()) {
    if (!out.empty() || k < 0)
      out += k < 0 ? "-" : "+";
    int64_t a = k < 0 ? -k : k;
    out += (a == 1 ? "" : std::to_string(a) + "*") + d;
  }
  int64_t c = s.constantPart();
  if (c != 0 || out.empty())
    out +=
        (out.empty() ? (c < 0 ? "-" : "") : (c < 0 ? "-" : "+")) + std::to_string(c < 0 ? -c : c);
  return out;
}

std::optional<Size> parseSize(const std::string &text) {
  Size total = Size::constant(0);
  size_t i = 0;
  if (text.empty())
    return std::nullopt;
  while (i < text.size()) {
    int sign = 1;
    if (text[i] == '+' || text[i] == '-')
      sign = text[i++] == '-' ? -1 : 1;
    size_t start = i;
    while (i < text.size() && text[i] != '+' && text[i] != '-')
      ++i;
    std::string term = text.substr(start, i - start);
    size_t star = term.find('*');
    std::string num = star == std::string::npos ? term : term.substr(0, star);
    std::string dim = star == std::string::npos ? "" : term.substr(star + 1);
    if (star == std::string::npos && !num.empty() && !std::isdigit((unsigned char)num[0]))
      dim = num, num = "1";
    bool identifier = !dim.empty() && !std::isdigit((unsigned char)dim[0]);
    for (char ch : dim)
      identifier = identifier && (std::isalnum((unsigned char)ch) || ch == '_');
    if (star != std::string::npos && !identifier)
      return std::nullopt;
    if (!dim.empty() && !identifier)
      return std::nullopt;
    if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos || num.size() > 18)
      return std::nullopt;
    int64_t k = sign * std::stoll(num);
    std::optional<Size> add =
        dim.empty() ? std::optional<Size>(Size::constant(k)) : Size::symbol(dim).scaled(k);
    std::optional<Size> sum = add ? total.plus(*add) : std::nullopt;
    if (!sum)
      return std::nullopt;
    total = *sum;
  }
  return total;
}

template <size_t N> int wordIndex(const char *const (&words)[N], const std::string &w) {
  for (size_t i = 0; i < N; ++i)
    if (w == words[i])
      return int(i);
  return -1;
}

} // namespace

std::string serialize(const Signature &s) {
  std::ostringstream o;
  o << "cellc-signature 1\ncell " << s.cell << "\ndims";
  for (const std::string &d : s.dims)
    o << " " << d;
  o << "\nfixed";
  for (auto &[d, v] : s.fixedDims)
    o << " " << d << "=" << v;
  o << "\n";
  for (Call c : {Call::Forward, Call::Backward})
    for (const Row &r : s.rows(c)) {
      char fill[32];
      std::snprintf(fill, sizeof fill, "%.17g", r.fill);
      o << (c == Call::Forward ? "forward" : "backward") << " " << (r.written ? "write" : "read")
        << " " << r.position << " " << kRoleWords[int(r.role)] << " " << r.tensor << " "
        << kLayoutWords[int(r.layout)] << " " << (r.optional ? 1 : 0) << " " << fill;
      for (const Size &d : r.shape)
        o << " " << sizeText(d);
      o << "\n";
    }
  return o.str();
}

std::optional<Signature> parse(const std::string &text, std::string &error) {
  std::istringstream in(text);
  std::string line, word;
  Signature s;
  auto bad = [&](const std::string &why) {
    error = "malformed signature: " + why + (line.empty() ? "" : " in '" + line + "'");
    return std::nullopt;
  };
  if (!std::getline(in, line) || line != "cellc-signature 1")
    return bad("no 'cellc-signature 1' header");
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    ls >> word;
    if (word == "cell") {
      ls >> s.cell;
    } else if (word == "dims") {
      while (ls >> word)
        s.dims.push_back(word);
    } else if (word == "fixed") {
      while (ls >> word) {
        size_t eq = word.find('=');
        if (eq == std::string::npos)
          return bad("a fixed dim without a value");
        s.fixedDims[word.substr(0, eq)] = std::stoll(word.substr(eq + 1));
      }
    } else if (word == "forward" || word == "backward") {
      Row r;
      const bool forward = word == "forward";
      std::string rw, role, layout;
      int optional = 0;
      if (!(ls >> rw >> r.position >> role >> r.tensor >> layout >> optional >> r.fill))
        return bad("a short row");
      int ri = wordIndex(kRoleWords, role), li = wordIndex(kLayoutWords, layout);
      if (ri < 0 || li < 0 || (rw != "read" && rw != "write"))
        return bad("an unknown role or layout");
      r.role = Role(ri);
      r.layout = Layout(li);
      r.written = rw == "write";
      r.optional = optional != 0;
      r.names = namesOf(r.role, r.tensor);
      while (ls >> word) {
        std::optional<Size> size = parseSize(word);
        if (!size)
          return bad("a bad size '" + word + "'");
        r.shape.push_back(*size);
      }
      (forward ? s.forward : s.backward).push_back(std::move(r));
      continue;
    } else {
      return bad("an unknown line");
    }
  }
  if (s.cell.empty())
    return bad("no cell name");
  return s;
}

} // namespace cellc::abi
