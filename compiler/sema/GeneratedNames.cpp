#include "compiler/sema/GeneratedNames.h"

#include "compiler/abi/Signature.h"

#include <iterator>
#include <map>
#include <set>
#include <sstream>

namespace cellc::sema {
namespace {

// C11, C23 and C++20 keywords, and NULL: any of them as a field name breaks the generated
// header.
bool isKeyword(const std::string &name) {
  static const std::set<std::string> words = [] {
    std::istringstream in(
        "alignas alignof and and_eq asm auto bitand bitor bool break case catch char char16_t "
        "char32_t char8_t class co_await co_return co_yield compl concept const const_cast "
        "consteval constexpr constinit continue decltype default delete do double dynamic_cast "
        "else enum explicit export extern false float for friend goto if inline int long mutable "
        "namespace new noexcept not not_eq nullptr operator or or_eq private protected public "
        "register reinterpret_cast requires restrict return short signed sizeof static "
        "static_assert static_cast struct switch template this thread_local throw true try "
        "typedef typeid typename typeof typeof_unqual union unsigned using virtual void volatile "
        "wchar_t while xor xor_eq _Alignas _Alignof _Atomic _BitInt _Bool _Complex _Generic "
        "_Imaginary _Noreturn _Static_assert _Thread_local NULL ");
    return std::set<std::string>(std::istream_iterator<std::string>(in), {});
  }();
  return words.count(name) != 0;
}

const char *kindName(NamedTensor::Kind k) {
  static const char *names[] = {"dim", "input", "state", "param", "output"};
  return names[int(k)];
}

// One generated name: `tensor` is its owner, `role` what it holds ("" for the tensor itself,
// "the gradient of", ...), `spelled` the name itself.
struct Claim {
  const NamedTensor *tensor;
  std::string role;
  std::string spelled;
  bool plain() const { return role.empty(); }
  std::string describe() const {
    std::string owner = std::string(kindName(tensor->kind)) + " '" + tensor->name + "'";
    return plain() ? owner : role + " " + owner;
  }
};

/// The header fields of a tensor, from the signature's spelling. A file name differs from its
/// field only by dots and the .npy suffix, so fields that are distinct give distinct files.
std::vector<Claim> claimsOf(const NamedTensor &t) {
  static const abi::TensorKind kinds[] = {abi::TensorKind::Input, abi::TensorKind::Input,
                                          abi::TensorKind::State, abi::TensorKind::Param,
                                          abi::TensorKind::Output};
  if (t.kind == NamedTensor::Kind::Dim)
    return {};
  std::vector<Claim> claims;
  for (abi::Role role : abi::rolesOf(kinds[int(t.kind)])) {
    abi::Names n = abi::namesOf(role, t.name);
    // The gradient of an output and of an input share a field: one claim for both.
    bool seen = false;
    for (const Claim &c : claims)
      seen = seen || c.spelled == n.field;
    if (!seen)
      claims.push_back({&t, n.description, n.field});
  }
  return claims;
}

void checkSpelling(const NamedTensor &t, dsl::DiagnosticEngine &diags) {
  if (isKeyword(t.name))
    diags.error(t.range, std::string(kindName(t.kind)) + " '" + t.name +
                             "' is named after a C/C++ keyword, which the generated header "
                             "cannot use as a field name; rename it");
  else if (t.kind == NamedTensor::Kind::Dim && (t.name == "T" || t.name == "B"))
    diags.error(t.range, "dim '" + t.name +
                             "' is reserved: T and B are every cell's sequence length and "
                             "batch size; rename it");
}

} // namespace

void checkGeneratedNames(const std::vector<NamedTensor> &tensors, dsl::DiagnosticEngine &diags) {
  for (const NamedTensor &t : tensors)
    checkSpelling(t, diags);
  // Names as written first, so that a clash is reported at the name the user chose rather
  // than at the tensor whose generated name it took.
  std::vector<Claim> claims;
  for (bool plain : {true, false})
    for (const NamedTensor &t : tensors)
      for (Claim &c : claimsOf(t))
        if (c.plain() == plain)
          claims.push_back(std::move(c));
  std::map<std::string, const Claim *> taken;
  std::set<const NamedTensor *> reported;
  for (const Claim &c : claims) {
    auto [it, isNew] = taken.emplace(c.spelled, &c);
    if (isNew)
      continue;
    const Claim *first = it->second;
    const Claim *blamed = first->plain() && !c.plain() ? first : &c;
    const Claim *other = blamed == first ? &c : first;
    if (!reported.insert(blamed->tensor).second)
      continue;
    const NamedTensor &t = *blamed->tensor;
    // A state's files are spelled with dots (h.init.npy), so its names clash in the header only.
    bool state =
        t.kind == NamedTensor::Kind::State || other->tensor->kind == NamedTensor::Kind::State;
    diags.error(t.range, std::string(kindName(t.kind)) + " '" + t.name + "' clashes with " +
                             other->describe() + ": both would be named '" + c.spelled +
                             (state ? "' in the generated header"
                                    : "' in the generated header and in cellc run's .npy files") +
                             "; rename " + kindName(t.kind) + " '" + t.name + "'");
    diags.note(other->tensor->range,
               other->describe() + (other->plain() ? " is declared here" : " comes from here"));
  }
}

} // namespace cellc::sema
