// Plain-loop references for every kernel in fp32.h: the specification the fast paths are tested
// against. Same semantics; sums are accumulated in double. Each is a template over the element
// type T, instantiated for float (the contract's signatures, deduced from the pointers) and for
// double (used by the finite-difference gradient tests). Single-threaded and slow on purpose.
#pragma once

#include <cstdint>
#include <type_traits>

#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_act.h"

namespace lowbit::kernels::ref {

// Scalars and nullable pointers do not take part in deducing T, so ref::f(s, x, ..., nullptr, 1.0)
// works for both element types.
template <typename T>
using Scalar = std::type_identity_t<T>;
template <typename T>
using NoDeduce = std::type_identity_t<T>;

// C(M,N) = alpha * op(A) * op(B) + beta * C (beta == 0 ignores C, so NaN garbage is overwritten).
template <typename T>
void gemm_f32(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, Scalar<T> alpha,
              const T* A, int64_t lda, const T* B, int64_t ldb, Scalar<T> beta, T* C,
              int64_t ldc);

// x (N,C,H,W), w (K,C/groups,R,S), y (N,K,OH,OW); zero padding, dilation, groups.
template <typename T>
void conv2d_forward(const ConvGeom& s, const T* x, const T* w, NoDeduce<const T*> bias, T* y);
template <typename T>
void conv2d_backward_data(const ConvGeom& s, const T* dy, const T* w, T* dx);
template <typename T>
void conv2d_backward_weight(const ConvGeom& s, const T* x, const T* dy, T* dw, T* dbias);

template <typename T>
void maxpool2d_forward(const ConvGeom& s, const T* x, T* y, int32_t* argmax);
template <typename T>
void maxpool2d_backward(const ConvGeom& s, const T* dy, const int32_t* argmax, T* dx);
template <typename T>
void avgpool2d_forward(const ConvGeom& s, const T* x, T* y);
template <typename T>
void avgpool2d_backward(const ConvGeom& s, const T* dy, T* dx);

template <typename T>
void batchnorm_forward_train(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma,
                             const T* beta, Scalar<T> eps, Scalar<T> momentum, NoDeduce<T*> running_mean,
                             NoDeduce<T*> running_var, T* y, T* save_mean, T* save_invstd);
template <typename T>
void batchnorm_forward_infer(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma,
                             const T* beta, const T* running_mean, const T* running_var,
                             Scalar<T> eps, T* y);
template <typename T>
void batchnorm_backward(int64_t N, int64_t C, int64_t HW, const T* x, const T* dy,
                        const T* gamma, const T* save_mean, const T* save_invstd, T* dx,
                        T* dgamma, T* dbeta);

template <typename T>
void relu_forward(int64_t n, const T* x, T* y);
template <typename T>
void relu_backward(int64_t n, const T* y, const T* dy, T* dx);

template <typename T>
void log_softmax_forward(int64_t B, int64_t C, const T* x, T* y);
template <typename T>
void log_softmax_backward(int64_t B, int64_t C, const T* y, const T* dy, T* dx);

template <typename T>
T softmax_cross_entropy_forward(int64_t B, int64_t C, const T* logits, const int32_t* labels,
                                    T* probs);
template <typename T>
void softmax_cross_entropy_backward(int64_t B, int64_t C, const T* probs, const int32_t* labels,
                                    Scalar<T> scale, T* dlogits);


template <typename T>
void activation_backward(ActGrad kind, int64_t n, const T* x, const T* y, const T* dy, Scalar<T> a, Scalar<T> b, T* dx);
template <typename T>
void softmax_backward_axis(int64_t outer, int64_t C, int64_t inner, const T* y, const T* dy, bool log_form, T* dx);
template <typename T>
void layernorm_backward(int64_t rows, int64_t D, const T* x, const T* gamma, Scalar<T> eps, const T* dy, T* dx,
                        NoDeduce<T*> dgamma, NoDeduce<T*> dbeta);
template <typename T>
void batchnorm_infer_backward(int64_t N, int64_t C, int64_t HW, const T* x, const T* dy, const T* gamma, const T* mean,
                              const T* var, Scalar<T> eps, T* dx, NoDeduce<T*> dgamma, NoDeduce<T*> dbeta,
                              NoDeduce<T*> dmean, NoDeduce<T*> dvar);

// Softmax / log-softmax over the middle axis of (outer, D, inner): exp and sums in double.
template <typename T>
void softmax_strided(int64_t outer, int64_t D, int64_t inner, const T* x, T* y, bool log);
// Layer normalization over rows of D in double (mean/invstd may be null).
template <typename T>
void layernorm_forward(int64_t rows, int64_t D, const T* x, const T* gamma, const T* beta, double eps, T* y,
                       float* mean, float* invstd);

// Activations (fp32_act.h): every kind in double with libm (std::exp, std::erf, std::tanh), one
// rounding to T at the end.
template <typename T>
void activation_forward(const Activation& act, int64_t n, const T* x, T* y);
template <typename T>
void sigmoid_inplace(int64_t n, T* v, Scalar<T> clip);
template <typename T>
void tanh_inplace(int64_t n, T* v, Scalar<T> clip);

}  // namespace lowbit::kernels::ref
