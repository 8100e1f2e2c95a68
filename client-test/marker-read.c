/* sgl-marker-read FILE.png: finds the frame marker (common/marker.h) in a
 * screenshot, wherever the window put it, and prints one JSON line
 * {"frame":N,"timestamp_us":T,"x":X,"y":Y}. Exits 1 when there is none. */
#include "config.h"

#include <inttypes.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/marker.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sgl-marker-read FILE.png\n");
        return 2;
    }
    png_image image = {.version = PNG_IMAGE_VERSION};
    if (!png_image_begin_read_from_file(&image, argv[1])) {
        fprintf(stderr, "sgl-marker-read: %s: %s\n", argv[1], image.message);
        return 2;
    }
    image.format = PNG_FORMAT_BGRA;
    size_t size = PNG_IMAGE_SIZE(image);
    uint8_t *pixels = malloc(size);
    if (!pixels || !png_image_finish_read(&image, NULL, pixels, 0, NULL)) {
        fprintf(stderr, "sgl-marker-read: %s: %s\n", argv[1], image.message);
        free(pixels);
        return 2;
    }
    struct sgl_marker_image im = {pixels, image.width, image.height, image.width * 4};
    struct sgl_marker m;
    uint32_t x, y;
    int status = 1;
    if (sgl_marker_find(&im, SGL_MARKER_BLOCK_DEFAULT, &x, &y, &m)) {
        printf("{\"frame\":%" PRIu32 ",\"timestamp_us\":%" PRIu64 ",\"x\":%" PRIu32
               ",\"y\":%" PRIu32 "}\n",
               m.frame, m.timestamp_us, x, y);
        status = 0;
    } else {
        fprintf(stderr, "sgl-marker-read: no marker in %s\n", argv[1]);
    }
    free(pixels);
    return status;
}
