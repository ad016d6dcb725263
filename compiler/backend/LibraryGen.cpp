#include "compiler/backend/LibraryGen.h"

#include "compiler/plan/RuntimePlan.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

namespace cellc::backend {

using plan::Role;

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

std::string floatLiteral(double v) {
  std::ostringstream o;
  o.precision(9);
  o << v;
  std::string s = o.str();
  if (s.find_first_of(".eEn") == std::string::npos)
    s += ".0";
  return s == "inf" ? "INFINITY" : s == "-inf" ? "-INFINITY" : s + "f";
}

static std::string sizeInit(const cellrt::SizeExpr &e) {
  std::string out = "{" + std::to_string(e.constant) + ", " + std::to_string(e.terms) + ", {";
  for (int i = 0; i < e.terms; ++i)
    out += std::string(i ? ", " : "") + "{" + std::to_string(e.term[i].index) + ", " +
           std::to_string(e.term[i].coeff) + "}";
  return out + "}}";
}

std::string sizeInit(const Size &s, const std::vector<std::string> &dims) {
  return sizeInit(plan::sizeExpr(s, dims));
}

std::string identityEntryPoints(const abi::Signature &sig, const std::string &defines) {
  const std::string &n = sig.cell;
  return "const char *" + n + "_error_message(void) { return cellrt::lastError().c_str(); }\n\n" +
         "// The signature, machine-readable (compiler/abi/Signature.h): what a program needs "
         "to\n" +
         "// bind this library without the .cell source.\n" + "const char *" + n +
         "_signature(void) {\n  return " + cString(abi::serialize(sig)) + ";\n}\n\n" +
         "// What `cellc run LIB.so` finds first: the cell's name and its -D values.\n" +
         "const char *cellc_library_name(void) { return \"" + n + "\"; }\n" +
         "const char *cellc_library_defines(void) { return " + cString(defines) + "; }\n\n";
}

namespace {

template <typename E> std::string enumName(E e, std::initializer_list<const char *> names) {
  return *(names.begin() + int(e));
}

std::string storageName(cellrt::Storage s) {
  return "cellrt::Storage::" + enumName(s, {"In", "Out", "Workspace", "Reserve"});
}
std::string extentName(cellrt::Extent e) {
  return "cellrt::Extent::" + enumName(e, {"Sequence", "Batch", "Whole", "Packed"});
}
std::string viewName(cellrt::ViewKind v) {
  return "cellrt::ViewKind::" + enumName(v, {"Samples", "Tensor", "Packed"});
}
std::string slotName(cellrt::Slot s) {
  return "cellrt::Slot::" + enumName(s, {"All", "Current", "Next"});
}
std::string kindName(cellrt::KernelKind k) {
  return "cellrt::KernelKind::" + enumName(k, {"TimeParallel", "Step", "Reduction"});
}
std::string portKindName(cellrt::PortKind k) {
  return "cellrt::PortKind::" + enumName(k, {"Input", "State", "Param", "Output"});
}
std::string stepKindName(cellrt::StepKind k) {
  return "cellrt::StepKind::" +
         enumName(k, {"Pack", "InitState", "RunKernel", "Loop", "FinalState"});
}

/// Writes the plan as cellrt tables and the entry points that hand them to the executor.
class GlueWriter {
public:
  GlueWriter(const plan::Plan &p, const abi::Signature &sig) : p_(p), sig_(sig) {}
  std::string write(const std::string &defines, const std::string &kernelsHeader);

private:
  void kernelDecls();
  void buffers();
  void kernels();
  void program(const char *name, const plan::Program &prog);
  void ports();
  void planTable();
  void entryPoints(const std::string &defines);

  const plan::Plan &p_;
  const abi::Signature &sig_;
  std::ostringstream o_;
};

void GlueWriter::kernelDecls() {
  o_ << "extern \"C\" {\n";
  for (const plan::Kernel &k : p_.kernels)
    o_ << "int " << kernelSymbol(p_.cell, k.name) << "_argv(void **);\n";
  o_ << "}\n\nnamespace {\n\n";
}

void GlueWriter::buffers() {
  o_ << "// label, storage, index, extent, len, cols, optional, ping-pong, memory\n"
     << "const cellrt::BufferDecl kBuffers[] = {\n";
  for (const plan::Buffer &b : p_.buffers)
    o_ << "    {" << cString(b.label) << ", " << storageName(b.storage) << ", " << b.index << ", "
       << extentName(b.extent) << ", " << sizeInit(b.len, p_.dims) << ", "
       << sizeInit(b.cols, p_.dims) << ", " << (b.optional ? "true" : "false") << ", "
       << (b.pingPong ? "true" : "false") << ", cellrt::Memory::Host},\n";
  o_ << "};\n\n";
}

void GlueWriter::kernels() {
  o_ << "// buffer, view, slot, rank\nconst cellrt::ArgDecl kArgs[] = {\n";
  std::vector<int> first;
  int at = 0;
  for (const plan::Kernel &k : p_.kernels) {
    first.push_back(at);
    o_ << "    // " << k.name << "\n";
    for (const auto *list : {&k.inputs, &k.outputs})
      for (const plan::Arg &a : *list) {
        o_ << "    {" << a.binding.buffer << ", " << viewName(a.binding.view) << ", "
           << slotName(a.binding.slot) << ", " << a.binding.rank << "}, // "
           << p_.buffers[a.binding.buffer].name << "\n";
        ++at;
      }
  }
  if (at == 0)
    o_ << "    {0, cellrt::ViewKind::Samples, cellrt::Slot::All, 0},\n";
  o_ << "};\n\nconst cellrt::KernelDecl kKernels[] = {\n";
  for (size_t k = 0; k < p_.kernels.size(); ++k) {
    const plan::Kernel &kd = p_.kernels[k];
    o_ << "    {" << cString(kd.name) << ", " << kindName(kd.kind) << ", " << first[k] << ", "
       << kd.inputs.size() + kd.outputs.size() << ", &" << kernelSymbol(p_.cell, kd.name)
       << "_argv},\n";
  }
  o_ << "};\n\n";
}

void GlueWriter::program(const char *name, const plan::Program &prog) {
  o_ << "// kind, kernel, src, dst, transpose, fill, direction\n"
     << "const cellrt::Step " << name << "[] = {\n";
  for (const cellrt::Step &s : prog.steps)
    o_ << "    {" << stepKindName(s.kind) << ", " << s.kernel << ", " << s.src << ", " << s.dst
       << ", " << (s.transpose ? "true" : "false") << ", " << floatLiteral(s.fill) << ", "
       << (s.direction == cellrt::Direction::Forward ? "cellrt::Direction::Forward"
                                                     : "cellrt::Direction::Reverse")
       << "},\n";
  o_ << "};\n\n";
}

void GlueWriter::ports() {
  o_ << "// tensor, kind, backward, written, index, elements per sample\n"
     << "const cellrt::PortDecl kPorts[] = {\n";
  for (const plan::Port &port : p_.ports)
    o_ << "    {" << cString(port.tensor) << ", " << portKindName(port.kind) << ", "
       << (port.backward ? "true" : "false") << ", " << (port.written ? "true" : "false") << ", "
       << port.index << ", " << sizeInit(plan::portLen(port, p_.dims)) << "},\n";
  o_ << "};\n\n";
}

void GlueWriter::planTable() {
  auto prog = [&](const char *table, const plan::Program &pr) {
    return "{" + cString(pr.name) + ", " + table + ", " + std::to_string(pr.steps.size()) + "}";
  };
  o_ << "const cellrt::SequencePlan kPlan = {\n"
     << "    " << cString(p_.cell) << ", " << 2 + p_.dims.size() << ", " << p_.packPadding
     << ",\n    kBuffers, " << p_.buffers.size() << ", kArgs, kKernels, " << p_.kernels.size()
     << ",\n    " << prog("kInference", p_.inference) << ",\n    " << prog("kTraining", p_.training)
     << ",\n    " << prog("kBackward", p_.backward) << ",\n    " << p_.forwardIn << ", "
     << p_.forwardOut << ", " << p_.backwardIn << ", " << p_.backwardOut << ",\n    kPorts, "
     << p_.ports.size() << "};\n\n} // namespace\n\n";
}

void GlueWriter::entryPoints(const std::string &defines) {
  const std::string &n = p_.cell;
  o_ << "extern \"C\" {\n\n"
     << "int " << n << "_workspace_size_v(const int64_t *shape, int64_t *bytes) {\n"
     << "  return cellrt::library::workspaceSize(kPlan, shape, bytes);\n}\n\n"
     << "int " << n << "_reserve_size_v(const int64_t *shape, int64_t *bytes) {\n"
     << "  return cellrt::library::reserveSize(kPlan, shape, bytes);\n}\n\n"
     << "int " << n
     << "_forward_v(const int64_t *shape, const float *const *in, float *const *out,\n"
     << "    void *workspace, int64_t workspaceBytes, void *reserve, int64_t reserveBytes) {\n"
     << "  return cellrt::library::forward(kPlan, shape, in, out, workspace, workspaceBytes, "
        "reserve,\n                                  reserveBytes);\n}\n\n"
     << "int " << n
     << "_backward_v(const int64_t *shape, const float *const *in, float *const *out,\n"
     << "    void *workspace, int64_t workspaceBytes, const void *reserve, int64_t "
        "reserveBytes) {\n"
     << "  return cellrt::library::backward(kPlan, shape, in, out, workspace, workspaceBytes, "
        "reserve,\n                                   reserveBytes);\n}\n\n"
     << "int " << n << "_packed_params_size_v(const int64_t *shape, int64_t *bytes) {\n"
     << "  return cellrt::library::packedParamsSize(kPlan, shape, bytes);\n}\n\n"
     << "int " << n
     << "_pack_params_v(const int64_t *shape, const float *const *in, void *packed,\n"
     << "    int64_t packedBytes) {\n"
     << "  return cellrt::library::packParams(kPlan, shape, in, packed, packedBytes);\n}\n\n"
     << "int " << n
     << "_forward_packed_v(const int64_t *shape, const float *const *in, float *const *out,\n"
     << "    const void *packed, int64_t packedBytes, void *workspace, int64_t workspaceBytes,\n"
     << "    void *reserve, int64_t reserveBytes) {\n"
     << "  return cellrt::library::forwardPacked(kPlan, shape, in, out, packed, packedBytes,\n"
     << "      workspace, workspaceBytes, reserve, reserveBytes);\n}\n\n"
     << "int " << n << "_stack_workspace_size_v(const int64_t *shape, int64_t layers,\n"
     << "    int64_t directions, int64_t *bytes) {\n"
     << "  return cellrt::library::stackSize(kPlan, shape, layers, directions, bytes, "
        "false);\n}\n\n"
     << "int " << n << "_stack_reserve_size_v(const int64_t *shape, int64_t layers,\n"
     << "    int64_t directions, int64_t *bytes) {\n"
     << "  return cellrt::library::stackSize(kPlan, shape, layers, directions, bytes, true);\n}\n\n"
     << "int " << n
     << "_stack_forward_v(const int64_t *shape, int64_t layers, int64_t directions,\n"
     << "    const int64_t *lengths, double dropout, uint64_t seed, const float *const *in,\n"
     << "    float *const *out, void *workspace, int64_t workspaceBytes, void *reserve,\n"
     << "    int64_t reserveBytes) {\n"
     << "  return cellrt::library::stackForward(kPlan, shape, {layers, directions, lengths, "
        "dropout, seed},\n      in, out, workspace, workspaceBytes, reserve, reserveBytes);\n}\n\n"
     << "int " << n
     << "_stack_backward_v(const int64_t *shape, int64_t layers, int64_t directions,\n"
     << "    const int64_t *lengths, double dropout, uint64_t seed, const float *const *in,\n"
     << "    float *const *out, void *workspace, int64_t workspaceBytes, const void *reserve,\n"
     << "    int64_t reserveBytes) {\n"
     << "  return cellrt::library::stackBackward(kPlan, shape, {layers, directions, lengths, "
        "dropout, seed},\n      in, out, workspace, workspaceBytes, reserve, reserveBytes);\n}\n\n"
     << identityEntryPoints(sig_, defines)
     << "// The threads of the kernels, process-wide (TBB): for hosts such as Python that have no\n"
     << "// tbb::global_control of their own.\n"
     << "int cellc_set_num_threads(int n) { return cellrt::library::setNumThreads(n); }\n\n"
     << "} // extern \"C\"\n";
}

std::string GlueWriter::write(const std::string &defines, const std::string &kernelsHeader) {
  o_ << "// Generated by cellc for cell '" << p_.cell << "'. Do not edit.\n"
     << "// The sequence plan as cellrt tables; cellrt's executor runs it.\n"
     << "#include \"" << kernelsHeader << "\"\n\n#include <cmath>\n\n";
  kernelDecls();
  buffers();
  kernels();
  program("kInference", p_.inference);
  program("kTraining", p_.training);
  program("kBackward", p_.backward);
  ports();
  planTable();
  entryPoints(defines);
  return o_.str();
}

} // namespace

std::string kernelSymbol(const std::string &cell, const std::string &kernel) {
  return cell + "_" + kernel;
}

std::string generateGlue(const plan::Plan &plan, const abi::Signature &sig,
                         const std::string &defines, const std::string &kernelsHeader) {
  return GlueWriter(plan, sig).write(defines, kernelsHeader);
}

/// The C++ compiler of the glue: $CXX, else c++, with $CELLC_GLUE_CXXFLAGS after our flags
/// (scripts/sanitize.sh builds libraries whose glue runs under ThreadSanitizer with them).
static std::string glueCompiler() {
  const char *cxx = std::getenv("CXX"), *flags = std::getenv("CELLC_GLUE_CXXFLAGS");
  std::string cmd = cxx && *cxx ? cxx : "c++";
  cmd += " -std=c++17 -O2 -fPIC -shared";
  if (flags && *flags)
    cmd += std::string(" ") + flags;
  return cmd;
}

bool linkLibrary(const LinkRequest &req, std::string &error) {
  std::string cmd = glueCompiler() + " -o '" + req.output + "' '" + req.glueSource + "'";
  for (const std::string &d : req.includeDirs)
    cmd += " -I'" + d + "'";
  for (const std::string &o : req.objects)
    cmd += " '" + o + "'";
  for (const std::string &l : req.libraries)
    cmd += " -l" + l;
  std::string output;
  if (!runCommand(cmd, output)) {
    error = "linking " + req.output + " failed:\n" + output;
    return false;
  }
  return true;
}

bool runCommand(const std::string &command, std::string &output) {
  output.clear();
  FILE *p = popen((command + " 2>&1").c_str(), "r");
  if (!p) {
    output = "cannot start: " + command;
    return false;
  }
  std::array<char, 512> buf;
  while (fgets(buf.data(), int(buf.size()), p))
    output += buf.data();
  return pclose(p) == 0;
}

} // namespace cellc::backend

namespace cellc::backend {

namespace {

std::string shapeComment(const abi::Row &r) {
  std::string s = r.layout == abi::Layout::Sequence ? "[T][B]"
                  : r.layout == abi::Layout::Batch  ? "[B]"
                                                    : "";
  for (const Size &d : r.shape)
    s += "[" + d.str() + "]";
  return s.empty() ? "[]" : s;
}

std::string rowComment(const abi::Row &r) {
  std::ostringstream c;
  c << (r.written ? "out: " : "") << shapeComment(r);
  if (r.role == abi::Role::InitState)
    c << ", or NULL: every element " << r.fill;
  if (r.role == abi::Role::FinalStateGrad)
    c << ", or NULL: zero";
  if (r.role == abi::Role::ParamGrad)
    c << ", summed over T and B";
  return c.str();
}

/// The typed struct of one call's arguments, in signature order.
void argsStruct(std::ostream &o, const abi::Signature &sig, abi::Call call, const char *what) {
  o << "typedef struct " << sig.cell << "_" << what << "_args {\n";
  for (bool written : {false, true})
    for (const abi::Row *r : sig.select(call, written))
      o << "  " << (written ? "float *" : "const float *") << r->names.field << "; /* "
        << rowComment(*r) << " */\n";
  o << "} " << sig.cell << "_" << what << "_args;\n\n";
}

/// `const float *in[] = {0, a->x, ...}; float *out[] = {0, ...};` for one call.
void pointerArrays(std::ostream &o, const abi::Signature &sig, abi::Call call) {
  o << "  const float *in[] = {0";
  for (const abi::Row *r : sig.select(call, false))
    o << ", a->" << r->names.field;
  o << "};\n  float *out[] = {0";
  for (const abi::Row *r : sig.select(call, true))
    o << ", a->" << r->names.field;
  o << "};\n";
}

} // namespace

std::string generateHeader(const abi::Signature &sig) {
  const std::string &n = sig.cell;
  std::ostringstream o;
  o << "/* Generated by cellc for cell '" << n << "'. Do not edit.\n"
    << " *\n * Every function returns 0 on success, else an error code (1 null pointer, 2 bad\n"
    << " * shape, 3 workspace too small, 4 reserve too small, 5 size overflow, 6 kernel failure)\n"
    << " * with a message from " << n << "_error_message() on the same thread. Tensors are\n"
    << " * float32, row-major; sequences are [T][B][n]. Calls are reentrant: per-call data lives\n"
    << " * in the caller's workspace and reserve; the kernels' small scratch blocks come from a\n"
    << " * process-wide cache guarded by a mutex. " << n
    << "_signature() describes every argument\n * as text, for programs that bind the library "
       "without this header. */\n"
    << "#ifndef CELLC_" << n << "_H\n#define CELLC_" << n << "_H\n\n#include <stdint.h>\n\n"
    << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
  o << "/* The sizes of one call. */\ntypedef struct " << n << "_shape {\n  int64_t T, B;\n";
  for (auto &d : sig.dims)
    o << "  int64_t " << d << ";\n";
  o << "} " << n << "_shape;\n\n";
  argsStruct(o, sig, abi::Call::Forward, "forward");
  argsStruct(o, sig, abi::Call::Backward, "backward");

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
    << "int " << n << "_packed_params_size_v(const int64_t *shape, int64_t *bytes);\n"
    << "int " << n << "_pack_params_v(const int64_t *shape, const float *const *in, void *packed,\n"
    << "    int64_t packed_bytes);\n"
    << "int " << n
    << "_forward_packed_v(const int64_t *shape, const float *const *in, float *const *out,\n"
    << "    const void *packed, int64_t packed_bytes, void *workspace, int64_t workspace_bytes,\n"
    << "    void *reserve, int64_t reserve_bytes);\n"
    << "const char *" << n << "_error_message(void);\n"
    << "const char *" << n << "_signature(void);\n\n"
    << "/* Stacks of layers, both directions (directions = 2) and ragged batches, as\n"
    << " * torch.nn.LSTM(num_layers, bidirectional) over a PackedSequence. The pointer arrays are\n"
    << " * those of " << n << "_forward_v and " << n << "_backward_v with every param (and param\n"
    << " * gradient) repeated for each layer and direction, layer-major: W_l0, W_l0_reverse,\n"
    << " * W_l1, ...; states are [layers * directions][B][n]; outputs (and their gradients) are\n"
    << " * the last layer's, [T][B][directions * n], zero past a sample's length; inputs are "
       "layer\n"
    << " * 0's. Layer k + 1 reads layer k's first output, so the dim that sizes the input is\n"
    << " * rebound per layer. lengths ([B], each 1..T, any order) may be NULL: every sample is T\n"
    << " * long. dropout (in [0, 1)) scales the input of layers 1.. in a training forward; the\n"
    << " * backward needs the same dropout and seed. Sizes hold for any lengths. */\n"
    << "int " << n << "_stack_workspace_size_v(const int64_t *shape, int64_t layers,\n"
    << "    int64_t directions, int64_t *bytes);\n"
    << "int " << n << "_stack_reserve_size_v(const int64_t *shape, int64_t layers,\n"
    << "    int64_t directions, int64_t *bytes);\n"
    << "int " << n << "_stack_forward_v(const int64_t *shape, int64_t layers, int64_t directions,\n"
    << "    const int64_t *lengths, double dropout, uint64_t seed, const float *const *in,\n"
    << "    float *const *out, void *workspace, int64_t workspace_bytes, void *reserve,\n"
    << "    int64_t reserve_bytes);\n"
    << "int " << n
    << "_stack_backward_v(const int64_t *shape, int64_t layers, int64_t directions,\n"
    << "    const int64_t *lengths, double dropout, uint64_t seed, const float *const *in,\n"
    << "    float *const *out, void *workspace, int64_t workspace_bytes, const void *reserve,\n"
    << "    int64_t reserve_bytes);\n\n";

  auto shapeArray = [&](std::ostream &os) {
    os << "  const int64_t dims[] = {s ? s->T : 0, s ? s->B : 0";
    for (auto &d : sig.dims)
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
    << "                     workspace_bytes, reserve, reserve_bytes);\n";
  pointerArrays(o, sig, abi::Call::Forward);
  o << "  return " << n
    << "_forward_v(shape, in + 1, out + 1, workspace, workspace_bytes, reserve,\n"
    << "                   reserve_bytes);\n}\n\n";

  o << "/* Packed params: the copies of the weight matrices that every forward call otherwise\n"
    << " * packs (transposes, pads) for its kernels, made once and reused by " << n
    << "_forward_packed\n * for as long as the params do not change, as oneDNN users reorder "
       "weights once. They\n * depend on the dims only (T and B, at least 1, do not matter); a "
       "call with other dims\n * is an error (2). */\n"
    << "static inline int " << n << "_packed_params_size(const " << n
    << "_shape *s, int64_t *bytes) {\n";
  shapeArray(o);
  o << "  return " << n << "_packed_params_size_v(shape, bytes);\n}\n\n"
    << "static inline int " << n << "_pack_params(const " << n << "_shape *s, const " << n
    << "_forward_args *a,\n    void *packed, int64_t packed_bytes) {\n";
  shapeArray(o);
  o << "  if (!a)\n    return " << n
    << "_pack_params_v(shape, (const float *const *)0, packed, packed_bytes);\n";
  pointerArrays(o, sig, abi::Call::Forward);
  o << "  (void)out;\n  return " << n
    << "_pack_params_v(shape, in + 1, packed, packed_bytes);\n}\n\n"
    << "/* " << n << "_forward with the params' packed copies from " << n
    << "_pack_params (made from\n * the same params). */\n"
    << "static inline int " << n << "_forward_packed(const " << n << "_shape *s, const " << n
    << "_forward_args *a,\n    const void *packed, int64_t packed_bytes, void *workspace, "
       "int64_t workspace_bytes,\n    void *reserve, int64_t reserve_bytes) {\n";
  shapeArray(o);
  o << "  if (!a)\n    return " << n
    << "_forward_packed_v(shape, (const float *const *)0, (float *const *)0, packed,\n"
    << "        packed_bytes, workspace, workspace_bytes, reserve, reserve_bytes);\n";
  pointerArrays(o, sig, abi::Call::Forward);
  o << "  return " << n
    << "_forward_packed_v(shape, in + 1, out + 1, packed, packed_bytes, workspace,\n"
    << "      workspace_bytes, reserve, reserve_bytes);\n}\n\n";

  o << "/* Backpropagation through time over the sequence of the last training forward (its\n"
    << " * reserve). Param gradients are written, not accumulated. */\n"
    << "static inline int " << n << "_backward(const " << n << "_shape *s, const " << n
    << "_backward_args *a,\n    void *workspace, int64_t workspace_bytes, const void *reserve, "
       "int64_t reserve_bytes) {\n";
  shapeArray(o);
  o << "  if (!a)\n    return " << n
    << "_backward_v(shape, (const float *const *)0, (float *const *)0, workspace,\n"
    << "                      workspace_bytes, reserve, reserve_bytes);\n";
  pointerArrays(o, sig, abi::Call::Backward);
  o << "  return " << n
    << "_backward_v(shape, in + 1, out + 1, workspace, workspace_bytes, reserve,\n"
    << "                    reserve_bytes);\n}\n\n";
  o << "#ifdef __cplusplus\n}\n#endif\n\n#endif\n";
  return o.str();
}

} // namespace cellc::backend
