#include <stdio.h>
#include <rectify.h>

int main(void) {
    const float x[4] = {-2, 1, -4, 3}, slope[2] = {0.5f, 0.25f};
    const int64_t x_shape[2] = {2, 2}, slope_shape[1] = {2};
    float y[4];
    int status = rectify_prelu_f32(x, x_shape, 2, slope, slope_shape, 1, y); /* y = {-1, 1, -2, 3} */
    if (status != RECTIFY_OK) {
        fprintf(stderr, "%s: %s\n", rectify_status_message(status), rectify_last_error());
        return 1;
    }
    printf("rectify %s: PRelu gives {%g, %g, %g, %g}\n", rectify_version(), y[0], y[1], y[2], y[3]);
    return !(y[0] == -1 && y[1] == 1 && y[2] == -2 && y[3] == 3);
}
