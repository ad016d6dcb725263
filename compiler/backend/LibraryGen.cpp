#include "compiler/backend/LibraryGen.h"

#include <array>
#include <cstdio>
#include <map>
#include <sstream>

namespace cellc::backend {

using plan::Role;

namespace {

/// The C expression of a size, from the dims held in the Layout `L`.
std::string sizeC(const Size &s) {
  std::string e = "int64_t(" + std::to_string(s.constantPart()) + ")";
  for (auto &[d, k] : s.terms())
    e = "ck.add(" + e + ", ck.mul(" + std::to_string(k) + ", L.d_" + d + "))";
  return e;
}

std::string floatLiteral(double v) {
  std::ostringstream o;
  o.precision(17);
  o << v;
  return o.str();
}

std::string lenC(const ir::Type &t) { return t.rank == 0 ? "int64_t(1)" : sizeC(t.rows); }

std::string elemsC(const ir::Type &t) {
  if (t.rank == 2)
    return "ck.mul(" + sizeC(t.rows) + ", " + sizeC(t.cols) + ")";
  return lenC(t);
}

/// Index of every tensor in the generic in/out pointer arrays.
struct Signature {
  std::map<std::string, int> fwdIn, fwdOut, bwdIn, bwdOut;
  explicit Signature(const ir::Cell &c) {
    int i = 0, o = 0;
    for (auto &x : c.inputs)
      fwdIn["input " + x.name] = i++;
    for (auto &s : c.states)
      fwdIn["init " + s.name] = i++;
    for (auto &p : c.params)
      fwdIn["param " + p.name] = i++;
    for (auto &y : c.outputs)
      fwdOut["output " + y.name] = o++;
    for (auto &s : c.states)
      fwdOut["final " + s.name] = o++;
    i = o = 0;
    for (auto &x : c.inputs)
      bwdIn["input " + x.name] = i++;
    for (auto &p : c.params)
      bwdIn["param " + p.name] = i++;
    for (auto &y : c.outputs)
      bwdIn["seed " + y.name] = i++;
    for (auto &s : c.states)
      bwdIn["final " + s.name] = i++;
    for (auto &x : c.inputs)
      bwdOut["input " + x.name] = o++;
    for (auto &s : c.states)
      bwdOut["init " + s.name] = o++;
    for (auto &p : c.params)
      bwdOut["param " + p.name] = o++;
  }
};

class GlueWriter {
public:
  GlueWriter(const ir::Cell &c, const plan::Plan &p) : c_(c), p_(p), sig_(c) {}
  std::string write(const std::string &source, const std::string &defines);

private:
  void layout();
  void kernelDecls();
  void kernelCall(const plan::Kernel &k, bool backward);
  std::string argPointer(const plan::Arg &a, bool backward, bool perStep);
  void forward();
  void backward();
  void entryPoints(const std::string &source, const std::string &defines);
  const ir::TensorDecl &param(const std::string &name) const {
    for (auto &p : c_.params)
      if (p.name == name)
        return p;
    return c_.params.front();
  }

  const ir::Cell &c_;
  const plan::Plan &p_;
  Signature sig_;
  std::ostringstream o_;
  void packParams(bool backward);

  /// A matrix param packed for GEMMs: "pT_W" (transposed) or "pP_W" (padded).
  struct Packed {
    Role role;
    std::string param;
    ir::Type type;
    bool forward = false, backward = false; // which direction's kernels read it
  };
  std::map<std::string, Packed> packed_;
};

std::string packedSlot(const plan::Arg &a) {
  return (a.role == Role::ParamT ? "pT_" : "pP_") + a.name;
}

void GlueWriter::layout() {
  for (auto &k : p_.kernels)
    for (auto &a : k.inputs)
      if (a.role == Role::ParamT || a.role == Role::ParamP) {
        Packed &p = packed_[packedSlot(a)];
        p.role = a.role;
        p.param = a.name;
        p.type = a.type;
        (k.backward ? p.backward : p.forward) = true;
      }
  o_ << "namespace {\n\n// Offsets (in floats) of every buffer in the workspace and reserve.\n"
     << "struct Layout {\n  int64_t T = 0, B = 0, TB = 0;\n";
  for (auto &d : c_.dims)
    o_ << "  int64_t d_" << d << " = 0;\n";
  o_ << "  int64_t workspace = 0, reserve = 0;\n";
  for (auto &[slot, p] : packed_)
    o_ << "  int64_t " << slot << " = 0;\n";
  for (auto &f : p_.frontiers)
    o_ << "  int64_t " << f.name << " = 0;\n";
  for (auto &s : c_.states)
    o_ << "  int64_t state_" << s.name << "[2] = {0, 0}, carry_" << s.name << "[2] = {0, 0};\n";
  for (auto &r : p_.reserve)
    o_ << "  int64_t " << r.name << " = 0;\n";
  o_ << "};\n\n";

  o_ << "int makeLayout(const int64_t *shape, Layout &L) {\n"
     << "  if (!shape)\n    return cellrt::fail(cellrt::kNullPointer, \"" << c_.name
     << ": shape is NULL\");\n"
     << "  L.T = shape[0];\n  L.B = shape[1];\n";
  int k = 2;
  for (auto &d : c_.dims)
    o_ << "  L.d_" << d << " = shape[" << k++ << "];\n";
  o_ << "  if (L.T < 1 || L.B < 1";
  for (auto &d : c_.dims)
    o_ << " || L.d_" << d << " < 1";
  o_ << ")\n    return cellrt::fail(cellrt::kBadShape, \"" << c_.name
     << ": T, B and every dimension must be at least 1\");\n"
     << "  cellrt::Checked ck;\n  L.TB = ck.mul(L.T, L.B);\n"
     << "  // Every buffer a kernel sees must be indexable with 32 bits.\n"
     << "  const int64_t limit = int64_t(1) << 31;\n"
     << "  auto fits = [&](int64_t elems) { return !ck.overflow && elems < limit; };\n"
     << "  bool ok = true;\n"
     << "  int64_t at = 0;\n"
     << "  auto slot = [&](int64_t elems) { ok = ok && fits(elems); int64_t o = at; at = "
        "ck.add(at, elems); return o; };\n";
  for (auto &[slot, p] : packed_) {
    bool forMatVec = p.role == Role::ParamT; // else for matvec_t: M and K swap
    o_ << "  L." << slot << " = slot(ck.mul(" << sizeC(forMatVec ? p.type.cols : p.type.rows)
       << ", cellrt::padded(" << sizeC(forMatVec ? p.type.rows : p.type.cols) << ")));\n";
  }
  for (auto &f : p_.frontiers)
    o_ << "  L." << f.name << " = slot(ck.mul(L.TB, " << lenC(f.type) << "));\n";
  for (auto &s : c_.states)
    for (const char *what : {"state_", "carry_"})
      for (int i = 0; i < 2; ++i)
        o_ << "  L." << what << s.name << "[" << i << "] = slot(ck.mul(L.B, " << lenC(s.type)
           << "));\n";
  o_ << "  L.workspace = at;\n  at = 0;\n";
  for (auto &r : p_.reserve)
    o_ << "  L." << r.name << " = slot(ck.mul(L.TB, " << lenC(r.type) << "));\n";
  o_ << "  L.reserve = at;\n";
  // Every tensor the caller passes must fit too.
  for (auto &x : c_.inputs)
    o_ << "  ok = ok && fits(ck.mul(L.TB, " << lenC(x.type) << "));\n";
  for (auto &y : c_.outputs)
    o_ << "  ok = ok && fits(ck.mul(L.TB, " << lenC(y.type) << "));\n";
  for (auto &p : c_.params)
    o_ << "  ok = ok && fits(" << elemsC(p.type) << ");\n";
  o_ << "  if (!ok || ck.overflow || L.workspace > INT64_MAX / 4 || L.reserve > INT64_MAX / 4)\n"
     << "    return cellrt::fail(cellrt::kOverflow, \"" << c_.name
     << ": the shape is too large (a buffer exceeds 2^31 elements or a size overflows 64 "
        "bits)\");\n"
     << "  return cellrt::kOk;\n}\n\n";
}

void GlueWriter::kernelDecls() {
  o_ << "extern \"C\" {\n";
  for (auto &k : p_.kernels) {
    o_ << "int " << c_.name << "_" << k.name << "(";
    for (size_t d = 0; d < c_.dims.size(); ++d)
      o_ << "int32_t, ";
    o_ << "int32_t";
    for (size_t i = 0; i < k.inputs.size() + k.outputs.size(); ++i)
      o_ << ", halide_buffer_t *";
    o_ << ");\n";
  }
  o_ << "}\n\n";
}

std::string GlueWriter::argPointer(const plan::Arg &a, bool backward, bool perStep) {
  std::string t = perStep ? " + ck.mul(ck.mul(t, L.B), " + lenC(a.type) + ")" : "";
  const auto &in = backward ? sig_.bwdIn : sig_.fwdIn;
  const auto &out = backward ? sig_.bwdOut : sig_.fwdOut;
  switch (a.role) {
  case Role::Input:
    return "in[" + std::to_string(in.at("input " + a.name)) + "]" + t;
  case Role::Param:
    return "in[" + std::to_string(in.at("param " + a.name)) + "]";
  case Role::ParamT:
  case Role::ParamP:
    return "ws + L." + packedSlot(a);
  case Role::State:
    return "ws + L.state_" + a.name + "[cur]";
  case Role::NewState:
    return "ws + L.state_" + a.name + "[1 - cur]";
  case Role::Carry:
    return "ws + L.carry_" + a.name + "[cur]";
  case Role::CarryOut:
    return "ws + L.carry_" + a.name + "[1 - cur]";
  case Role::Frontier:
    return "ws + L." + a.name + t;
  case Role::Saved:
    return "rs + L." + a.name + t;
  case Role::SeedOutput:
    return "in[" + std::to_string(in.at("seed " + a.name)) + "]" + t;
  case Role::Output:
    return "out[" + std::to_string(out.at("output " + a.name)) + "]" + t;
  case Role::GradInput:
    return "out[" + std::to_string(out.at("input " + a.name)) + "]";
  case Role::GradParam:
    return "out[" + std::to_string(out.at("param " + a.name)) + "]";
  }
  return "nullptr";
}

void GlueWriter::kernelCall(const plan::Kernel &k, bool backward) {
  std::vector<const plan::Arg *> args;
  for (auto &a : k.inputs)
    args.push_back(&a);
  for (auto &a : k.outputs)
    args.push_back(&a);
  o_ << "    {\n      cellrt::Buffer b[" << std::max<size_t>(args.size(), 1) << "];\n";
  for (size_t i = 0; i < args.size(); ++i) {
    const plan::Arg &a = *args[i];
    std::string ptr = argPointer(a, backward, k.perStep);
    if (a.role == Role::Param || a.role == Role::GradParam) {
      const ir::Type &t = param(a.name).type;
      o_ << "      b[" << i << "].tensor(" << ptr << ", " << t.rank << ", "
         << (t.rank >= 1 ? sizeC(t.rows) : "1") << ", " << (t.rank == 2 ? sizeC(t.cols) : "1")
         << ");\n";
    } else if (a.role == Role::ParamT || a.role == Role::ParamP) { // [K][padded M]
      bool forMatVec = a.role == Role::ParamT;
      std::string M = sizeC(forMatVec ? a.type.rows : a.type.cols);
      std::string K = sizeC(forMatVec ? a.type.cols : a.type.rows);
      o_ << "      b[" << i << "].tensor(" << ptr << ", 2, " << K << ", cellrt::padded(" << M
         << "));\n";
    } else {
      o_ << "      b[" << i << "].samples(" << ptr << ", " << lenC(a.type) << ", "
         << (k.perStep ? "L.B" : "L.TB") << ");\n";
    }
  }
  o_ << "      int rc = " << c_.name << "_" << k.name << "(";
  for (auto &d : c_.dims)
    o_ << "int32_t(L.d_" << d << "), ";
  o_ << "int32_t(" << (k.perStep ? "L.B" : "L.TB") << ")";
  for (size_t i = 0; i < args.size(); ++i)
    o_ << ", b[" << i << "].get()";
  o_ << ");\n      if (rc != 0)\n        return cellrt::fail(cellrt::kKernelFailed, \"" << c_.name
     << "_" << k.name << ": \" + cellrt::lastError());\n    }\n";
}

const plan::Kernel *find(const plan::Plan &p, const std::string &name) {
  for (auto &k : p.kernels)
    if (k.name == name)
      return &k;
  return nullptr;
}

void GlueWriter::packParams(bool backward) {
  for (auto &[slot, p] : packed_) {
    if (!(backward ? p.backward : p.forward))
      continue;
    int idx = (backward ? sig_.bwdIn : sig_.fwdIn).at("param " + p.param);
    o_ << "  cellrt::packPadded(in[" << idx << "], " << sizeC(p.type.rows) << ", "
       << sizeC(p.type.cols) << ", " << (p.role == Role::ParamT ? "true" : "false") << ", ws + L."
       << slot << ");\n";
  }
}

void GlueWriter::forward() {
  o_ << "int forward(const int64_t *shape, const float *const *in, float *const *out, void "
        "*workspace,\n            int64_t workspaceBytes, void *reserve, int64_t reserveBytes) "
        "{\n"
     << "  Layout L;\n  if (int rc = makeLayout(shape, L))\n    return rc;\n"
     << "  if (!in || !out || !workspace)\n    return cellrt::fail(cellrt::kNullPointer, \""
     << c_.name << "_forward: in, out and workspace must not be NULL\");\n";
  for (auto &[key, idx] : sig_.fwdIn)
    if (key.rfind("init ", 0) != 0)
      o_ << "  if (!in[" << idx << "])\n    return cellrt::fail(cellrt::kNullPointer, \"" << c_.name
         << "_forward: " << key << " is NULL\");\n";
  for (auto &[key, idx] : sig_.fwdOut)
    o_ << "  if (!out[" << idx << "])\n    return cellrt::fail(cellrt::kNullPointer, \"" << c_.name
       << "_forward: " << key << " is NULL\");\n";
  o_ << "  if (workspaceBytes < L.workspace * 4)\n"
     << "    return cellrt::fail(cellrt::kWorkspaceTooSmall, \"" << c_.name
     << "_forward: workspace has \" + std::to_string(workspaceBytes) + \" bytes, needs \" + "
        "std::to_string(L.workspace * 4));\n"
     << "  const bool train = reserve != nullptr;\n"
     << "  if (train && reserveBytes < L.reserve * 4)\n"
     << "    return cellrt::fail(cellrt::kReserveTooSmall, \"" << c_.name
     << "_forward: reserve has \" + std::to_string(reserveBytes) + \" bytes, needs \" + "
        "std::to_string(L.reserve * 4));\n"
     << "  cellrt::setUpHalideRuntime();\n  cellrt::Checked ck;\n"
     << "  float *ws = static_cast<float *>(workspace);\n"
     << "  float *rs = static_cast<float *>(reserve);\n  (void)rs;\n  int cur = 0;\n";
  packParams(false);
  for (auto &s : c_.states) {
    int idx = sig_.fwdIn.at("init " + s.name);
    o_ << "  if (in[" << idx << "])\n    std::memcpy(ws + L.state_" << s.name << "[0], in[" << idx
       << "], ck.mul(L.B, " << lenC(s.type) << ") * sizeof(float));\n  else\n"
       << "    cellrt::fill(ws + L.state_" << s.name << "[0], ck.mul(L.B, " << lenC(s.type)
       << "), float(" << floatLiteral(s.init) << "));\n";
  }
  for (bool train : {false, true}) {
    const plan::Kernel *pre = find(p_, train ? "forward_pre_train" : "forward_pre");
    if (train && !pre)
      pre = find(p_, "forward_pre");
    const plan::Kernel *step = find(p_, train ? "forward_step_train" : "forward_step");
    o_ << "  if (" << (train ? "" : "!") << "train) {\n";
    if (pre) {
      o_ << "    const int64_t t = 0;\n    (void)t;\n";
      kernelCall(*pre, false);
    }
    o_ << "    for (int64_t t = 0; t < L.T; ++t, cur = 1 - cur)\n";
    kernelCall(*step, false);
    o_ << "  }\n";
  }
  for (auto &s : c_.states)
    o_ << "  std::memcpy(out[" << sig_.fwdOut.at("final " + s.name) << "], ws + L.state_" << s.name
       << "[cur], ck.mul(L.B, " << lenC(s.type) << ") * sizeof(float));\n";
  o_ << "  return cellrt::kOk;\n}\n\n";
}

void GlueWriter::backward() {
  o_ << "int backward(const int64_t *shape, const float *const *in, float *const *out, void "
        "*workspace,\n             int64_t workspaceBytes, const void *reserve, int64_t "
        "reserveBytes) {\n"
     << "  Layout L;\n  if (int rc = makeLayout(shape, L))\n    return rc;\n"
     << "  if (!in || !out || !workspace || (!reserve && L.reserve > 0))\n"
     << "    return cellrt::fail(cellrt::kNullPointer, \"" << c_.name
     << "_backward: in, out, workspace and reserve must not be NULL\");\n";
  for (auto &[key, idx] : sig_.bwdIn)
    if (key.rfind("final ", 0) != 0)
      o_ << "  if (!in[" << idx << "])\n    return cellrt::fail(cellrt::kNullPointer, \"" << c_.name
         << "_backward: "
         << (key.rfind("seed ", 0) == 0 ? "gradient of output " + key.substr(5) : key)
         << " is NULL\");\n";
  for (auto &[key, idx] : sig_.bwdOut)
    o_ << "  if (!out[" << idx << "])\n    return cellrt::fail(cellrt::kNullPointer, \"" << c_.name
       << "_backward: gradient of " << key << " is NULL\");\n";
  o_ << "  if (workspaceBytes < L.workspace * 4)\n"
     << "    return cellrt::fail(cellrt::kWorkspaceTooSmall, \"" << c_.name
     << "_backward: workspace has \" + std::to_string(workspaceBytes) + \" bytes, needs \" + "
        "std::to_string(L.workspace * 4));\n"
     << "  if (reserveBytes < L.reserve * 4)\n"
     << "    return cellrt::fail(cellrt::kReserveTooSmall, \"" << c_.name
     << "_backward: reserve has \" + std::to_string(reserveBytes) + \" bytes, needs \" + "
        "std::to_string(L.reserve * 4));\n"
     << "  cellrt::setUpHalideRuntime();\n  cellrt::Checked ck;\n"
     << "  float *ws = static_cast<float *>(workspace);\n"
     << "  const float *rs = static_cast<const float *>(reserve);\n  (void)rs;\n  int cur = 0;\n";
  packParams(true);
  for (auto &s : c_.states) {
    int idx = sig_.bwdIn.at("final " + s.name);
    o_ << "  if (in[" << idx << "])\n    std::memcpy(ws + L.carry_" << s.name << "[0], in[" << idx
       << "], ck.mul(L.B, " << lenC(s.type) << ") * sizeof(float));\n  else\n"
       << "    cellrt::fill(ws + L.carry_" << s.name << "[0], ck.mul(L.B, " << lenC(s.type)
       << "), 0.0f);\n";
  }
  o_ << "  for (int64_t t = L.T - 1; t >= 0; --t, cur = 1 - cur)\n";
  kernelCall(*find(p_, "backward_step"), true);
  for (auto &s : c_.states)
    o_ << "  std::memcpy(out[" << sig_.bwdOut.at("init " + s.name) << "], ws + L.carry_" << s.name
       << "[cur], ck.mul(L.B, " << lenC(s.type) << ") * sizeof(float));\n";
  o_ << "  {\n    const int64_t t = 0;\n    (void)t;\n";
  kernelCall(*find(p_, "backward_post"), true);
  o_ << "  }\n  return cellrt::kOk;\n}\n\n";
}

std::string cString(const std::string &s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '\\' || ch == '"')
      out += '\\', out += ch;
    else if (ch == '\n')
      out += "\\n\"\n\"";
    else if ((unsigned char)ch < 32)
      out += "\\x" + std::string(1, "0123456789abcdef"[(ch >> 4) & 15]) +
             std::string(1, "0123456789abcdef"[ch & 15]) + "\"\"";
    else
      out += ch;
  }
  return out + "\"";
}

void GlueWriter::entryPoints(const std::string &source, const std::string &defines) {
  const std::string &n = c_.name;
  o_ << "} // namespace\n\nextern \"C\" {\n\n"
     << "int " << n << "_workspace_size_v(const int64_t *shape, int64_t *bytes) {\n"
     << "  Layout L;\n  if (int rc = makeLayout(shape, L))\n    return rc;\n"
     << "  if (!bytes)\n    return cellrt::fail(cellrt::kNullPointer, \"" << n
     << "_workspace_size: bytes is NULL\");\n  *bytes = L.workspace * 4;\n  return 0;\n}\n\n"
     << "int " << n << "_reserve_size_v(const int64_t *shape, int64_t *bytes) {\n"
     << "  Layout L;\n  if (int rc = makeLayout(shape, L))\n    return rc;\n"
     << "  if (!bytes)\n    return cellrt::fail(cellrt::kNullPointer, \"" << n
     << "_reserve_size: bytes is NULL\");\n  *bytes = L.reserve * 4;\n  return 0;\n}\n\n"
     << "int " << n
     << "_forward_v(const int64_t *shape, const float *const *in, float *const *out,\n"
     << "    void *workspace, int64_t workspaceBytes, void *reserve, int64_t reserveBytes) {\n"
     << "  try {\n    return forward(shape, in, out, workspace, workspaceBytes, reserve, "
        "reserveBytes);\n"
     << "  } catch (const std::exception &e) {\n"
     << "    return cellrt::fail(cellrt::kKernelFailed, e.what());\n  }\n}\n\n"
     << "int " << n
     << "_backward_v(const int64_t *shape, const float *const *in, float *const *out,\n"
     << "    void *workspace, int64_t workspaceBytes, const void *reserve, int64_t "
        "reserveBytes) {\n"
     << "  try {\n    return backward(shape, in, out, workspace, workspaceBytes, reserve, "
        "reserveBytes);\n"
     << "  } catch (const std::exception &e) {\n"
     << "    return cellrt::fail(cellrt::kKernelFailed, e.what());\n  }\n}\n\n"
     << "const char *" << n << "_error_message(void) { return cellrt::lastError().c_str(); }\n\n"
     << "// What `cellc run LIB.so` needs to recover the cell's signature.\n"
     << "const char *cellc_library_name(void) { return \"" << n << "\"; }\n"
     << "const char *cellc_library_source(void) {\n  return " << cString(source) << ";\n}\n"
     << "const char *cellc_library_defines(void) { return " << cString(defines) << "; }\n\n"
     << "} // extern \"C\"\n";
}

std::string GlueWriter::write(const std::string &source, const std::string &defines) {
  o_ << "// Generated by cellc for cell '" << c_.name << "'. Do not edit.\n"
     << "#include \"cellrt/Glue.h\"\n\n#include <cstring>\n#include <exception>\n\n";
  kernelDecls();
  layout();
  forward();
  backward();
  entryPoints(source, defines);
  return o_.str();
}

} // namespace

std::string generateGlue(const ir::Cell &cell, const plan::Plan &plan, const std::string &source,
                         const std::string &defines) {
  return GlueWriter(cell, plan).write(source, defines);
}

bool linkLibrary(const LinkRequest &req, std::string &error) {
  std::string cmd =
      "c++ -std=c++17 -O2 -fPIC -shared -o '" + req.output + "' '" + req.glueSource + "'";
  for (const std::string &d : req.includeDirs)
    cmd += " -I'" + d + "'";
  for (const std::string &o : req.objects)
    cmd += " '" + o + "'";
  cmd += " -ltbb -lpthread -ldl 2>&1";
  FILE *p = popen(cmd.c_str(), "r");
  if (!p) {
    error = "cannot run the C++ compiler";
    return false;
  }
  std::array<char, 512> buf;
  std::string output;
  while (fgets(buf.data(), int(buf.size()), p))
    output += buf.data();
  int status = pclose(p);
  if (status != 0) {
    error = "linking " + req.output + " failed:\n" + output;
    return false;
  }
  return true;
}

} // namespace cellc::backend

namespace cellc::backend {

namespace {

std::string shapeComment(const ir::Type &t, const std::string &prefix) {
  if (t.rank == 0)
    return prefix + "[]";
  return prefix + "[" + t.rows.str() + "]" + (t.rank == 2 ? "[" + t.cols.str() + "]" : "");
}

} // namespace

std::string generateHeader(const ir::Cell &c, const plan::Plan &) {
  const std::string &n = c.name;
  std::ostringstream o;
  o << "/* Generated by cellc for cell '" << n << "'. Do not edit.\n"
    << " *\n * Every function returns 0 on success, else an error code (1 null pointer, 2 bad\n"
    << " * shape, 3 workspace too small, 4 reserve too small, 5 size overflow, 6 kernel failure)\n"
    << " * with a message from " << n << "_error_message() on the same thread. Tensors are\n"
    << " * float32, row-major; sequences are [T][B][n]. Calls are reentrant: per-call data lives\n"
    << " * in the caller's workspace and reserve; the kernels' small scratch blocks come from a\n"
    << " * process-wide cache guarded by a mutex. */\n"
    << "#ifndef CELLC_" << n << "_H\n#define CELLC_" << n << "_H\n\n#include <stdint.h>\n\n"
    << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
  o << "/* The sizes of one call. */\ntypedef struct " << n << "_shape {\n  int64_t T, B;\n";
  for (auto &d : c.dims)
    o << "  int64_t " << d << ";\n";
  o << "} " << n << "_shape;\n\n";

  o << "typedef struct " << n << "_forward_args {\n";
  for (auto &x : c.inputs)
    o << "  const float *" << x.name << "; /* " << shapeComment(x.type, "[T][B]") << " */\n";
  for (auto &s : c.states)
    o << "  const float *" << s.name << "_init; /* " << shapeComment(s.type, "[B]")
      << ", or NULL: every element " << s.init << " */\n";
  for (auto &p : c.params)
    o << "  const float *" << p.name << "; /* " << shapeComment(p.type, "") << " */\n";
  for (auto &y : c.outputs)
    o << "  float *" << y.name << "; /* out: " << shapeComment(y.type, "[T][B]") << " */\n";
  for (auto &s : c.states)
    o << "  float *" << s.name << "_final; /* out: " << shapeComment(s.type, "[B]") << " */\n";
  o << "} " << n << "_forward_args;\n\n";

  o << "typedef struct " << n << "_backward_args {\n";
  for (auto &x : c.inputs)
    o << "  const float *" << x.name << "; /* " << shapeComment(x.type, "[T][B]") << " */\n";
  for (auto &p : c.params)
    o << "  const float *" << p.name << "; /* " << shapeComment(p.type, "") << " */\n";
  for (auto &y : c.outputs)
    o << "  const float *grad_" << y.name << "; /* " << shapeComment(y.type, "[T][B]") << " */\n";
  for (auto &s : c.states)
    o << "  const float *grad_" << s.name << "_final; /* " << shapeComment(s.type, "[B]")
      << ", or NULL: zero */\n";
  for (auto &x : c.inputs)
    o << "  float *grad_" << x.name << "; /* out: " << shapeComment(x.type, "[T][B]") << " */\n";
  for (auto &s : c.states)
    o << "  float *grad_" << s.name << "_init; /* out: " << shapeComment(s.type, "[B]") << " */\n";
  for (auto &p : c.params)
    o << "  float *grad_" << p.name << "; /* out: " << shapeComment(p.type, "")
      << ", summed over T and B */\n";
  o << "} " << n << "_backward_args;\n\n";

  o << "/* The generic entry points (pointer arrays in signature order); prefer the typed\n"
    << " * functions below. */\n"
    << "int " << n << "_workspace_size_v(const int64_t *shape, int64_t *bytes);\n"
    << "int " << n << "_reserve_size_v(const int64_t *shape, int64_t *bytes);\n"
    << "int " << n
    << "_forward_v(const int64_t *shape, const float *const *in, float *const *out,\n"
    << "    void *workspace, int64_t workspace_bytes, void *reserve, int64_t reserve_bytes);\n"
    << "int " << n
    << "_backward_v(const int64_t *shape, const float *const *in, float *const *out,\n"
    << "    void *workspace, int64_t workspace_bytes, const void *reserve, int64_t "
       "reserve_bytes);\n"
    << "const char *" << n << "_error_message(void);\n\n";

  auto shapeArray = [&](std::ostream &os) {
    os << "  const int64_t dims[] = {s ? s->T : 0, s ? s->B : 0";
    for (auto &d : c.dims)
      os << ", s ? s->" << d << " : 0";
    os << "};\n  const int64_t *shape = s ? dims : (const int64_t *)0;\n";
  };
  for (const char *what : {"workspace", "reserve"}) {
    o << "/* Bytes of " << what << " a call with these sizes needs. */\n"
      << "static inline int " << n << "_" << what << "_size(const " << n
      << "_shape *s, int64_t *bytes) {\n";
    shapeArray(o);
    o << "  return " << n << "_" << what << "_size_v(shape, bytes);\n}\n\n";
  }
  o << "/* Runs the sequence forward. With reserve == NULL it is inference; otherwise it keeps\n"
    << " * in the reserve what " << n << "_backward needs. */\n"
    << "static inline int " << n << "_forward(const " << n << "_shape *s, const " << n
    << "_forward_args *a,\n    void *workspace, int64_t workspace_bytes, void *reserve, int64_t "
       "reserve_bytes) {\n";
  shapeArray(o);
  o << "  if (!a)\n    return " << n
    << "_forward_v(shape, (const float *const *)0, (float *const *)0, workspace,\n"
    << "                     workspace_bytes, reserve, reserve_bytes);\n"
    << "  const float *in[] = {0";
  for (auto &x : c.inputs)
    o << ", a->" << x.name;
  for (auto &s : c.states)
    o << ", a->" << s.name << "_init";
  for (auto &p : c.params)
    o << ", a->" << p.name;
  o << "};\n  float *out[] = {0";
  for (auto &y : c.outputs)
    o << ", a->" << y.name;
  for (auto &s : c.states)
    o << ", a->" << s.name << "_final";
  o << "};\n  return " << n
    << "_forward_v(shape, in + 1, out + 1, workspace, workspace_bytes, reserve,\n"
    << "                   reserve_bytes);\n}\n\n";

  o << "/* Backpropagation through time over the sequence of the last training forward (its\n"
    << " * reserve). Param gradients are written, not accumulated. */\n"
    << "static inline int " << n << "_backward(const " << n << "_shape *s, const " << n
    << "_backward_args *a,\n    void *workspace, int64_t workspace_bytes, const void *reserve, "
       "int64_t reserve_bytes) {\n";
  shapeArray(o);
  o << "  if (!a)\n    return " << n
    << "_backward_v(shape, (const float *const *)0, (float *const *)0, workspace,\n"
    << "                      workspace_bytes, reserve, reserve_bytes);\n"
    << "  const float *in[] = {0";
  for (auto &x : c.inputs)
    o << ", a->" << x.name;
  for (auto &p : c.params)
    o << ", a->" << p.name;
  for (auto &y : c.outputs)
    o << ", a->grad_" << y.name;
  for (auto &s : c.states)
    o << ", a->grad_" << s.name << "_final";
  o << "};\n  float *out[] = {0";
  for (auto &x : c.inputs)
    o << ", a->grad_" << x.name;
  for (auto &s : c.states)
    o << ", a->grad_" << s.name << "_init";
  for (auto &p : c.params)
    o << ", a->grad_" << p.name;
  o << "};\n  return " << n
    << "_backward_v(shape, in + 1, out + 1, workspace, workspace_bytes, reserve,\n"
    << "                    reserve_bytes);\n}\n\n";
  o << "#ifdef __cplusplus\n}\n#endif\n\n#endif\n";
  return o.str();
}

} // namespace cellc::backend
