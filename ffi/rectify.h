/*
 * rectify.h: the plain C kernel API of librectify.so.
 *
 * The same kernels that librectify.so registers with ONNX Runtime, over flat, contiguous,
 * row-major buffers. Results are bit-identical to the ONNX custom ops (and so to ONNX
 * Runtime's built-in LeakyRelu / PRelu, see the README's rounding rules).
 *
 * Conventions
 *   - Every kernel returns an int status: RECTIFY_OK (0) or one of the codes below.
 *     rectify_status_message(status) names the code; rectify_last_error() gives the full
 *     message of the last failure on the calling thread ("rectify: PRelu: input 'slope' ...").
 *   - y may be the same buffer as x (in place); any other overlap is refused.
 *   - A pointer may be NULL only when its buffer holds no elements.
 *   - float16 and bfloat16 elements are passed as their IEEE bits in uint16_t.
 *   - The functions are thread-safe and never abort the process: a bug inside rectify is
 *     reported as RECTIFY_INTERNAL_ERROR.
 */
#ifndef RECTIFY_H
#define RECTIFY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. */
enum {
    RECTIFY_OK = 0,
    /* A required pointer was NULL. */
    RECTIFY_NULL_POINTER = 1,
    /* A bad attribute, shape or buffer overlap: see rectify_last_error(). */
    RECTIFY_INVALID_ARGUMENT = 2,
    /* A bug inside rectify (caught, never propagated). */
    RECTIFY_INTERNAL_ERROR = 3
};

/* The library version, e.g. "0.1.0". */
const char *rectify_version(void);

/* A static description of a status code ("ok", "null pointer", ...). */
const char *rectify_status_message(int status);

/* The message of the last failed call on this thread, or "" if none failed yet. Valid until
 * the next rectify call on this thread. */
const char *rectify_last_error(void);

/* LeakyRelu: y = x < 0 ? alpha * x : x, over len elements. alpha must be finite. */
int rectify_leaky_relu_f32(const float *x, size_t len, float alpha, float *y);
int rectify_leaky_relu_f64(const double *x, size_t len, float alpha, double *y);
int rectify_leaky_relu_f16(const uint16_t *x, size_t len, float alpha, uint16_t *y);
int rectify_leaky_relu_bf16(const uint16_t *x, size_t len, float alpha, uint16_t *y);

/* PRelu: y = x < 0 ? slope * x : x, slope broadcast to x numpy-style (unidirectional:
 * right-aligned, each slope dim equal to x's or 1). y has x's shape. */
int rectify_prelu_f32(const float *x, const int64_t *x_shape, size_t x_rank, const float *slope,
                      const int64_t *slope_shape, size_t slope_rank, float *y);
int rectify_prelu_f64(const double *x, const int64_t *x_shape, size_t x_rank, const double *slope,
                      const int64_t *slope_shape, size_t slope_rank, double *y);
int rectify_prelu_f16(const uint16_t *x, const int64_t *x_shape, size_t x_rank, const uint16_t *slope,
                      const int64_t *slope_shape, size_t slope_rank, uint16_t *y);
int rectify_prelu_bf16(const uint16_t *x, const int64_t *x_shape, size_t x_rank, const uint16_t *slope,
                       const int64_t *slope_shape, size_t slope_rank, uint16_t *y);

/* PRelu with a channel axis (the ONNX op's `axis` attribute): slope is 1-D, of length
 * x_shape[axis] (or 1); a negative axis counts from the end. */
int rectify_prelu_axis_f32(const float *x, const int64_t *x_shape, size_t x_rank, const float *slope,
                           size_t slope_len, int64_t axis, float *y);
int rectify_prelu_axis_f64(const double *x, const int64_t *x_shape, size_t x_rank, const double *slope,
                           size_t slope_len, int64_t axis, double *y);
int rectify_prelu_axis_f16(const uint16_t *x, const int64_t *x_shape, size_t x_rank, const uint16_t *slope,
                           size_t slope_len, int64_t axis, uint16_t *y);
int rectify_prelu_axis_bf16(const uint16_t *x, const int64_t *x_shape, size_t x_rank, const uint16_t *slope,
                            size_t slope_len, int64_t axis, uint16_t *y);

/* RRelu in inference: LeakyRelu with alpha = (lower + upper) / 2 (computed in float).
 * lower <= upper, both finite and representable in the element type. */
int rectify_rrelu_f32(const float *x, size_t len, float lower, float upper, float *y);
int rectify_rrelu_f64(const double *x, size_t len, float lower, float upper, double *y);
int rectify_rrelu_f16(const uint16_t *x, size_t len, float lower, float upper, uint16_t *y);
int rectify_rrelu_bf16(const uint16_t *x, size_t len, float lower, float upper, uint16_t *y);

/* RRelu in training: element i draws its slope from U[lower, upper) with the Philox stream
 * keyed by (seed, run). The same (seed, run) gives the same bits; run r of the ONNX op
 * (counting from 0 in each session) equals run = r here. slope, if not NULL, receives the
 * slope used for each element (1 where x >= 0), so y == x * slope exactly. */
int rectify_rrelu_train_f32(const float *x, size_t len, float lower, float upper, uint64_t seed, uint64_t run,
                            float *y, float *slope);
int rectify_rrelu_train_f64(const double *x, size_t len, float lower, float upper, uint64_t seed, uint64_t run,
                            double *y, double *slope);
int rectify_rrelu_train_f16(const uint16_t *x, size_t len, float lower, float upper, uint64_t seed, uint64_t run,
                            uint16_t *y, uint16_t *slope);
int rectify_rrelu_train_bf16(const uint16_t *x, size_t len, float lower, float upper, uint64_t seed,
                             uint64_t run, uint16_t *y, uint16_t *slope);

#ifdef __cplusplus
}
#endif

#endif /* RECTIFY_H */
