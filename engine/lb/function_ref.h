// A non-owning reference to a callable, for hot-path callbacks: two words, no allocation, no
// virtual call. It must not outlive the callable it refers to, so take it as a parameter and
// never store it.
#pragma once

#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace pharos::lb {

template <typename Signature>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  // Refers to a plain function. A pointer is kept by value, so a temporary pointer is fine.
  FunctionRef(R (*fn)(Args...)) noexcept  // NOLINT(google-explicit-constructor)
      : callee_{.fn = reinterpret_cast<void (*)()>(fn)}, thunk_(&call_function<R (*)(Args...)>) {}

  // Refers to any other callable (lambda, functor); the callable must outlive this reference.
  template <typename F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> &&
             !std::is_function_v<std::remove_reference_t<F>> &&
             std::is_invocable_r_v<R, F&, Args...>)
  FunctionRef(F&& callable) noexcept  // NOLINT(google-explicit-constructor)
      : callee_{.object = const_cast<void*>(static_cast<const void*>(std::addressof(callable)))},
        thunk_(&call_object<std::remove_reference_t<F>>) {}

  R operator()(Args... args) const { return thunk_(callee_, std::forward<Args>(args)...); }

 private:
  union Callee {
    void* object;
    void (*fn)();
  };

  template <typename Fn>
  static R call_function(Callee callee, Args... args) {
    return std::invoke(reinterpret_cast<Fn>(callee.fn), std::forward<Args>(args)...);
  }
  template <typename F>
  static R call_object(Callee callee, Args... args) {
    return std::invoke(*static_cast<F*>(callee.object), std::forward<Args>(args)...);
  }

  Callee callee_;
  R (*thunk_)(Callee, Args...);
};

}  // namespace pharos::lb
