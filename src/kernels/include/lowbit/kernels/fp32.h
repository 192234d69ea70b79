// fp32 kernels used by training and inference: GEMM, conv2d (forward and both backwards),
// pooling, batch norm, ReLU, softmax / cross-entropy. Row-major, NCHW, raw pointers, no
// allocation visible to callers, no exceptions. Each has a plain-loop twin in namespace ref
// (fp32_ref.h) that is its specification; tests compare the two within derived tolerances.
// Threads: all follow lowbit::num_threads(). GEMM and convolution come from oneDNN (see
// fp32_tuning.h) and may differ in the last bits between thread counts; every other kernel
// reduces in a fixed order and gives bitwise the same result on any thread count.
#pragma once

#include <cstdint>

#include "lowbit/kernels/conv_geom.h"

namespace lowbit::kernels {

// C(M,N) = alpha * op(A) * op(B) + beta * C. op(A) is M×K (A is K×M when trans_a), op(B) is
// K×N (B is N×K when trans_b). Leading dimensions are row strides in elements.
void gemm_f32(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
              int64_t ldc);
// The same in double (the ONNX engine's f64 MatMul/Gemm): plain loops, products summed in
// double, one rounding per element — the reference's loops (ref::gemm_f32<double>); no fast path.
void gemm_f64(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
              const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
              int64_t ldc);

// 2-d convolution on a rank-2 ConvGeom (conv_geom.h): x is (N,C,H,W), w is (K, C/groups, R, S),
// y is (N,K,OH,OW); pads may differ at the two ends of an axis.
// y = conv(x, w) + bias (bias may be null).
void conv2d_forward(const ConvGeom& s, const float* x, const float* w, const float* bias, float* y);
// dx = conv_transpose(dy, w); overwrites dx.
void conv2d_backward_data(const ConvGeom& s, const float* dy, const float* w, float* dx);
// dw = sum over batch of x ⋆ dy (overwrites dw); dbias = sum of dy over N,OH,OW (if non-null).
void conv2d_backward_weight(const ConvGeom& s, const float* x, const float* dy, float* dw, float* dbias);

// Pooling on a rank-2 ConvGeom with K = C (ConvGeom::pool2d): x is (N,C,H,W), y is (N,C,OH,OW);
// R×S windows. Padding never wins a max; average pooling divides by the number of in-bounds
// elements (count_include_pad = false). A ceil_mode pool sets out to one more window than the
// floor rule, clipped to the input like the others (it must start inside the input or the
// top/left padding).
// argmax (N,C,OH,OW) receives the index h*W+w of each window's maximum (first one on ties).
void maxpool2d_forward(const ConvGeom& s, const float* x, float* y, int32_t* argmax);
// Inference max pooling on channels-last data: x is (N,H,W,C), y is (N,OH,OW,C); same values
// as maxpool2d_forward.
void maxpool2d_forward_nhwc(const ConvGeom& s, const float* x, float* y);
// Inference max pooling, NCHW, without the argmax: the same values as maxpool2d_forward.
void maxpool2d_infer(const ConvGeom& s, const float* x, float* y);
// Inference max pooling on quantized codes, NCHW or channels-last: max commutes with a
// dequantization of positive scale, so pooling the codes gives the codes of the float result.
// Same values as ref::maxpool2d_forward on the codes.
void maxpool2d_infer(const ConvGeom& s, const uint8_t* x, uint8_t* y);
void maxpool2d_infer(const ConvGeom& s, const int8_t* x, int8_t* y);
void maxpool2d_forward_nhwc(const ConvGeom& s, const uint8_t* x, uint8_t* y);
void maxpool2d_forward_nhwc(const ConvGeom& s, const int8_t* x, int8_t* y);
// dx is overwritten: zero, then dy scattered to argmax positions.
void maxpool2d_backward(const ConvGeom& s, const float* dy, const int32_t* argmax, float* dx);
void avgpool2d_forward(const ConvGeom& s, const float* x, float* y);
void avgpool2d_backward(const ConvGeom& s, const float* dy, float* dx);

// Batch norm over (N, C, HW): statistics per channel over N*HW values.
// Training: y = gamma*(x-mean)*invstd + beta with batch statistics (biased variance);
// saves mean/invstd (C each) for backward; updates running stats with
// r = (1-momentum)*r + momentum*batch (running_var uses the unbiased batch variance; the biased
// one when N*HW == 1). running_mean/running_var may be null: no update.
void batchnorm_forward_train(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma,
                             const float* beta, float eps, float momentum, float* running_mean,
                             float* running_var, float* y, float* save_mean, float* save_invstd);
void batchnorm_forward_infer(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma,
                             const float* beta, const float* running_mean, const float* running_var,
                             float eps, float* y);
// The same in double (the ONNX engine's f64 BatchNormalization).
void batchnorm_forward_infer(int64_t N, int64_t C, int64_t HW, const double* x, const double* gamma,
                             const double* beta, const double* running_mean, const double* running_var,
                             double eps, double* y);
// Overwrites dx, dgamma, dbeta.
void batchnorm_backward(int64_t N, int64_t C, int64_t HW, const float* x, const float* dy,
                        const float* gamma, const float* save_mean, const float* save_invstd, float* dx,
                        float* dgamma, float* dbeta);

// Layer normalization over rows of D: y = (x - mean) * invstd * gamma[i] + beta[i] with the
// biased variance (two passes, sums in double) and invstd = 1/sqrt(var + eps); mean and invstd
// (rows each, float) may be null. The float version applies the affine map in float with
// float(mean), float(invstd); the double one entirely in double.
void layernorm_forward(int64_t rows, int64_t D, const float* x, const float* gamma, const float* beta, double eps,
                       float* y, float* mean, float* invstd);
void layernorm_forward(int64_t rows, int64_t D, const double* x, const double* gamma, const double* beta,
                       double eps, double* y, float* mean, float* invstd);

// y = max(x, 0); dx = dy where y > 0 else 0 (y may alias x; dx may alias dy).
void relu_forward(int64_t n, const float* x, float* y);
void relu_backward(int64_t n, const float* y, const float* dy, float* dx);

// Row-wise over (B, C): y = log_softmax(x) (numerically stable; y may not alias x).
void log_softmax_forward(int64_t B, int64_t C, const float* x, float* y);
// dx = dy - softmax(x) * sum(dy) per row, given y = log_softmax(x). Overwrites dx.
void log_softmax_backward(int64_t B, int64_t C, const float* y, const float* dy, float* dx);

// Softmax (or log-softmax) over the middle axis of x viewed as (outer, D, inner), float or
// double: max-shifted, sums in double. The ONNX Softmax/LogSoftmax along a strided axis and
// SoftmaxCrossEntropyLoss's log_prob use it (y may not alias x).
void softmax_strided(int64_t outer, int64_t D, int64_t inner, const float* x, float* y, bool log);
void softmax_strided(int64_t outer, int64_t D, int64_t inner, const double* x, double* y, bool log);
// The inference fast path over contiguous rows (inner == 1; attention scores, classifier heads):
// exp from fast_exp (fp32_act.h), sums in float; the reference is ref::softmax_strided with
// inner = 1 (y may not alias x).
void softmax_rows(int64_t rows, int64_t D, const float* x, float* y, bool log);

// Negative log-likelihood of log-probabilities logp (N, C, D) (D: the product of trailing
// dims, 1 for (N, C)) at target (N, D): loss[n, d] = -w[t] * logp[n, t, d] with t = target[n, d]
// and w = weight (C) or 1; an element whose target equals ignore_index (when has_ignore) gets 0
// and weight 0. Returns the sum of the weights of the elements counted (the divisor of ONNX's
// "mean" reduction). Targets outside [0, C) are the caller's to reject before calling.
double nll_loss(int64_t N, int64_t C, int64_t D, const float* logp, const int64_t* target, const float* weight,
                bool has_ignore, int64_t ignore_index, float* loss);
double nll_loss(int64_t N, int64_t C, int64_t D, const double* logp, const int64_t* target, const double* weight,
                bool has_ignore, int64_t ignore_index, double* loss);

// Mean cross-entropy of logits (B,C) against int32 labels in [0, C): returns the mean loss
// and writes probs = softmax(logits) for the backward. Labels out of range are the caller's
// to reject before calling.
float softmax_cross_entropy_forward(int64_t B, int64_t C, const float* logits, const int32_t* labels,
                                    float* probs);
// dlogits = scale * (probs - onehot(labels)) / B. Overwrites dlogits.
void softmax_cross_entropy_backward(int64_t B, int64_t C, const float* probs, const int32_t* labels,
                                    float scale, float* dlogits);


// Backward kernels of the ONNX engine's vector-Jacobian products (onnx/grad.h); references in
// fp32_ref.h. Each overwrites its outputs; null outputs are skipped.
// dx = dy * f'(x) for an activation f, given x and y = f(x). a, b: LeakyRelu alpha (a); Clip
// bounds [a, b] (gradient passes strictly inside); HardSigmoid alpha, beta; Pow exponent (a).
// Where x sits on a kink (Relu at 0, Clip at a bound) the gradient is 0, as in PyTorch.
enum class ActGrad : int { relu, leaky_relu, clip, hard_sigmoid, hard_swish, sigmoid, tanh, gelu_erf, gelu_tanh, erf, sqrt, pow };
void activation_backward(ActGrad kind, int64_t n, const float* x, const float* y, const float* dy, float a, float b,
                         float* dx);
// Softmax (log_form: LogSoftmax) over the middle axis of (outer, C, inner) given its output y:
// dx = y * (dy - sum_c dy*y), or for the log form dx = dy - exp(y) * sum_c dy.
void softmax_backward_axis(int64_t outer, int64_t C, int64_t inner, const float* y, const float* dy, bool log_form,
                           float* dx);
// Layer normalization over rows of D (biased variance + eps, recomputed from x), scale gamma (D):
// dx (rows, D), dgamma and dbeta (D, summed over rows).
void layernorm_backward(int64_t rows, int64_t D, const float* x, const float* gamma, float eps, const float* dy,
                        float* dx, float* dgamma, float* dbeta);
// Inference batch norm y = gamma*(x-mean)/sqrt(var+eps) + beta over (N, C, HW) with fixed
// statistics: dx, and per channel dgamma, dbeta, dmean, dvar.
void batchnorm_infer_backward(int64_t N, int64_t C, int64_t HW, const float* x, const float* dy, const float* gamma,
                              const float* mean, const float* var, float eps, float* dx, float* dgamma, float* dbeta,
                              float* dmean, float* dvar);

}  // namespace lowbit::kernels
