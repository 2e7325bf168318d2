#pragma once
// `folder:PATH` datasets: PATH holds one subfolder per class (classes sorted by name,
// byte order), each with PNG, JPEG or BMP files (sorted by name), read with stb_image.
#include <string>

#include "datasets/image_dataset.hpp"

namespace fc::data {

// Every image is converted to options.channels (0 means 3: RGB; 1: grey) and resized
// to options.height x options.width (a 0 takes the first image's). Hidden entries
// (".name") and files of other types are skipped. Throws a one-line fc::Error for a
// missing PATH, no class subfolders, a class without images, or an image that stb_image
// cannot read (naming it).
ImageDataset load_image_folder(const std::string& path, const ImageLoadOptions& options);

}  // namespace fc::data
