#pragma once
// FunctionRef<R(A...)>: a non-owning reference to a callable, two words wide. Visitors
// and write callbacks take one so that passing a lambda neither allocates (as
// std::function may) nor forces the callee into a header (as a template would).

#include <memory>
#include <type_traits>
#include <utility>

namespace vrift::manifest {

template <class Sig>
class FunctionRef;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  // Refers to `fn`, which must outlive every call made through this reference (a
  // lambda passed as an argument lives until the end of the full expression: enough).
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef> &&
                                              std::is_invocable_r_v<R, F&, Args...>>>
  FunctionRef(F&& fn) noexcept  // NOLINT(google-explicit-constructor): implicit by design
      : m_obj(const_cast<void*>(static_cast<const void*>(std::addressof(fn)))),
        m_call([](void* obj, Args... args) -> R {
          return (*static_cast<std::add_pointer_t<std::remove_reference_t<F>>>(obj))(
              std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return m_call(m_obj, std::forward<Args>(args)...); }

 private:
  void* m_obj;
  R (*m_call)(void*, Args...);
};

}  // namespace vrift::manifest
