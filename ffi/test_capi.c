/*
 * A C host for librectify.so's kernel API: every check prints one line, "ok ..." or
 * "FAIL ...", and the exit status is the number of failures. tests/capi.rs compiles it,
 * links it against the built librectify.so and runs it (also under valgrind when present).
 *
 * Usage: test_capi EXPECTED_VERSION
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rectify.h"

static int failures = 0;

static void check(int ok, const char *what) {
    printf("%s %s\n", ok ? "ok" : "FAIL", what);
    if (!ok) failures++;
}

static uint32_t bits32(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static int same_f32(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (bits32(a[i]) != bits32(b[i]) && !(isnan(a[i]) && isnan(b[i]))) return 0;
    return 1;
}

/* A failed call: the expected status, and a last-error message containing `needle`. */
static void check_error(int status, int expected, const char *needle, const char *what) {
    const char *message = rectify_last_error();
    int ok = status == expected && strstr(message, needle) != NULL;
    printf("%s %s: status %d (%s), \"%s\"\n", ok ? "ok" : "FAIL", what, status, rectify_status_message(status),
           message);
    if (!ok) failures++;
}

static void leaky_relu(void) {
    const float x[6] = {-2.0f, -0.0f, 0.0f, 3.0f, -INFINITY, NAN};
    const float want[6] = {-1.0f, -0.0f, 0.0f, 3.0f, -INFINITY, NAN};
    float y[6];
    check(rectify_leaky_relu_f32(x, 6, 0.5f, y) == RECTIFY_OK && same_f32(y, want, 6), "leaky_relu_f32");

    float buf[6];
    memcpy(buf, x, sizeof buf);
    check(rectify_leaky_relu_f32(buf, 6, 0.5f, buf) == RECTIFY_OK && same_f32(buf, want, 6),
          "leaky_relu_f32 in place");

    const double xd[3] = {-3.0, 5.0, -4.9406564584124654e-324 /* smallest subnormal */};
    double yd[3];
    /* float64 follows ONNX Runtime's double rule: a product that rounds to -0 becomes +0. */
    int ok = rectify_leaky_relu_f64(xd, 3, 0.25f, yd) == RECTIFY_OK && yd[0] == -0.75 && yd[1] == 5.0 &&
             yd[2] == 0.0 && !signbit(yd[2]);
    check(ok, "leaky_relu_f64");

    const uint16_t xh[3] = {0xC000 /* -2 */, 0x4200 /* 3 */, 0x7E00 /* NaN */};
    uint16_t yh[3];
    ok = rectify_leaky_relu_f16(xh, 3, 0.5f, yh) == RECTIFY_OK && yh[0] == 0xBC00 && yh[1] == 0x4200 &&
         (yh[2] & 0x7C00) == 0x7C00 && (yh[2] & 0x03FF) != 0;
    check(ok, "leaky_relu_f16");

    const uint16_t xb[2] = {0xC000 /* -2 */, 0x4040 /* 3 */};
    uint16_t yb[2];
    ok = rectify_leaky_relu_bf16(xb, 2, 0.5f, yb) == RECTIFY_OK && yb[0] == 0xBF80 && yb[1] == 0x4040;
    check(ok, "leaky_relu_bf16");
}

static void prelu(void) {
    /* NCHW [1, 2, 2, 2] with a per-channel slope [2, 1, 1]. */
    const float x[8] = {-1, 2, -3, 4, -5, 6, -7, 8};
    const int64_t x_shape[4] = {1, 2, 2, 2};
    const float slope[2] = {0.5f, 0.25f};
    const int64_t slope_shape[3] = {2, 1, 1};
    const float want[8] = {-0.5f, 2, -1.5f, 4, -1.25f, 6, -1.75f, 8};
    float y[8];
    check(rectify_prelu_f32(x, x_shape, 4, slope, slope_shape, 3, y) == RECTIFY_OK && same_f32(y, want, 8),
          "prelu_f32 channel slope [2,1,1]");

    memset(y, 0, sizeof y);
    check(rectify_prelu_axis_f32(x, x_shape, 4, slope, 2, 1, y) == RECTIFY_OK && same_f32(y, want, 8),
          "prelu_axis_f32 axis=1");

    const double xd[4] = {-1, -2, 3, -4};
    const int64_t shape2[2] = {2, 2};
    const double sd[2] = {0.5, 2.0}; /* [2]: broadcast along the last axis */
    const int64_t sshape[1] = {2};
    double yd[4];
    int ok = rectify_prelu_f64(xd, shape2, 2, sd, sshape, 1, yd) == RECTIFY_OK && yd[0] == -0.5 && yd[1] == -4.0 &&
             yd[2] == 3.0 && yd[3] == -8.0;
    check(ok, "prelu_f64 slope [2]");

    const uint16_t xh[2] = {0xC000, 0x4000};
    const uint16_t sh[1] = {0x3800 /* 0.5 */};
    const int64_t one[1] = {1}, two[1] = {2};
    uint16_t yh[2];
    ok = rectify_prelu_f16(xh, two, 1, sh, one, 1, yh) == RECTIFY_OK && yh[0] == 0xBC00 && yh[1] == 0x4000;
    check(ok, "prelu_f16 scalar-like slope [1]");

    const int64_t bad_slope_shape[1] = {3};
    float y4[4];
    const float x4[4] = {1, 2, 3, 4};
    check_error(rectify_prelu_f32(x4, shape2, 2, slope, bad_slope_shape, 1, y4), RECTIFY_INVALID_ARGUMENT,
                "PRelu: input 'slope' of shape [3] is not unidirectionally broadcastable to input 'X' of shape [2, 2]",
                "prelu_f32 slope [3] vs x [2,2]");
    check_error(rectify_prelu_axis_f32(x4, shape2, 2, slope, 2, 5, y4), RECTIFY_INVALID_ARGUMENT, "axis",
                "prelu_axis_f32 axis out of range");
    check_error(rectify_prelu_f32(x4, NULL, 2, slope, sshape, 1, y4), RECTIFY_NULL_POINTER,
                "PRelu: 'x_shape' is a null pointer", "prelu_f32 null shape");
}

static void rrelu(void) {
    const float x[4] = {-4, 2, -8, 0};
    float y[4], want[4];
    rectify_leaky_relu_f32(x, 4, (0.125f + 0.375f) / 2.0f, want);
    check(rectify_rrelu_f32(x, 4, 0.125f, 0.375f, y) == RECTIFY_OK && same_f32(y, want, 4),
          "rrelu_f32 inference = leaky_relu at (lower+upper)/2");

    enum { N = 1000 };
    static float xs[N], y1[N], y2[N], y3[N], s1[N];
    for (int i = 0; i < N; i++) xs[i] = (float)(i % 7) - 3.5f;
    int ok = rectify_rrelu_train_f32(xs, N, 0.125f, 1.0f / 3.0f, 42, 0, y1, s1) == RECTIFY_OK &&
             rectify_rrelu_train_f32(xs, N, 0.125f, 1.0f / 3.0f, 42, 0, y2, NULL) == RECTIFY_OK &&
             rectify_rrelu_train_f32(xs, N, 0.125f, 1.0f / 3.0f, 42, 1, y3, NULL) == RECTIFY_OK;
    check(ok && same_f32(y1, y2, N), "rrelu_train_f32 same (seed, run) -> same bits");
    check(ok && !same_f32(y1, y3, N), "rrelu_train_f32 next run differs");
    int in_range = 1, exact = 1;
    for (int i = 0; i < N; i++) {
        if (xs[i] < 0) in_range &= s1[i] >= 0.125f && s1[i] < 1.0f / 3.0f;
        else in_range &= s1[i] == 1.0f;
        exact &= bits32(y1[i]) == bits32(xs[i] * s1[i]);
    }
    check(in_range, "rrelu_train_f32 slopes in [lower, upper), 1 where x >= 0");
    check(exact, "rrelu_train_f32 y == x * slope");

    memcpy(y2, xs, sizeof y2);
    check(rectify_rrelu_train_f32(y2, N, 0.125f, 1.0f / 3.0f, 42, 0, y2, NULL) == RECTIFY_OK && same_f32(y1, y2, N),
          "rrelu_train_f32 in place");

    check_error(rectify_rrelu_train_f32(xs, N, 0.5f, 0.25f, 1, 0, y1, NULL), RECTIFY_INVALID_ARGUMENT,
                "RRelu: attribute 'lower' (0.5) must not exceed attribute 'upper' (0.25)", "rrelu lower > upper");
    check_error(rectify_rrelu_train_f32(xs, N, 0.1f, 0.3f, 1, 0, y1, y1), RECTIFY_INVALID_ARGUMENT,
                "'slope' overlaps 'y'", "rrelu slope aliasing y");
    uint16_t h[1] = {0xC000}, hy[1];
    check_error(rectify_rrelu_f16(h, 1, 1e5f, 2e5f, hy), RECTIFY_INVALID_ARGUMENT, "does not fit tensor(float16)",
                "rrelu_f16 bounds beyond float16");
}

static void errors(void) {
    float y[4];
    const float x[4] = {1, 2, 3, 4};
    check_error(rectify_leaky_relu_f32(NULL, 4, 0.1f, y), RECTIFY_NULL_POINTER, "LeakyRelu: 'x' is a null pointer",
                "leaky_relu null x");
    check_error(rectify_leaky_relu_f32(x, 4, NAN, y), RECTIFY_INVALID_ARGUMENT, "attribute 'alpha' must be finite",
                "leaky_relu alpha NaN");
    float buf[5] = {1, 2, 3, 4, 5};
    check_error(rectify_leaky_relu_f32(buf, 4, 0.1f, buf + 1), RECTIFY_INVALID_ARGUMENT, "'y' overlaps 'x'",
                "leaky_relu partial overlap");
    check(rectify_leaky_relu_f32(NULL, 0, 0.1f, NULL) == RECTIFY_OK, "leaky_relu empty with NULL buffers");
    check(strcmp(rectify_status_message(RECTIFY_OK), "ok") == 0 &&
              strcmp(rectify_status_message(99), "unknown status code") == 0,
          "status messages");
}

int main(int argc, char **argv) {
    check(argc > 1 && strcmp(rectify_version(), argv[1]) == 0, "rectify_version");
    check(strcmp(rectify_last_error(), "") == 0, "no error before any failure");
    leaky_relu();
    prelu();
    rrelu();
    errors();
    printf("%d failures\n", failures);
    return failures;
}
