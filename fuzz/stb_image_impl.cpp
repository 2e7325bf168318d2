// The fuzz build compiles stb_image from Debian's header instead of linking libstb.so,
// so that the decoders of image: and folder: are instrumented too: libFuzzer then sees
// their coverage, and AddressSanitizer their memory accesses. (The g++ build links
// libstb.so as before.)
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
