#pragma once
// A tiny image dataset for end-to-end tests of the image programs, in the folder layout
// that `folder:ROOT` reads (ROOT/{train,test}/CLASS/*.png).
#include <filesystem>
#include <string>

#include "apps/cli/dataset_dir.hpp"
#include "apps/flow2d/mlp_flow.hpp"
#include "viz/canvas.hpp"
#include "viz/png.hpp"

// Two classes of 12x12 pictures: dark on the left or dark on the right, with a
// per-image shade so that no two are alike.
inline void write_tiny_dataset(const std::string& root) {
  for (const char* split : {"train", "test"})
    for (int cls = 0; cls < 2; ++cls) {
      std::string dir = root + "/" + split + "/" + (cls ? "right" : "left");
      std::filesystem::create_directories(dir);
      for (int i = 0; i < 8; ++i) {
        fc::viz::Canvas c(12, 12);
        uint8_t shade = static_cast<uint8_t>(20 * i);
        c.fill_rect(fc::viz::Rect{cls ? 6 : 0, 0, 6, 12}, fc::viz::RGB{shade, shade, shade});
        fc::viz::write_png(dir + "/" + std::to_string(i) + ".png", c);
      }
    }
}


// The output folder the image programs write for the dataset "folder:DIR/pics".
inline std::string pics_folder(const std::string& dir) { return fc::app::dataset_dir_name("folder:" + dir + "/pics"); }
