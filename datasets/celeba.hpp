#pragma once
// CelebA (https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html), read from its official
// files where the user put them: its host serves them through Google Drive pages that
// want a browser, so flowcpp does not download them. DIR (data/celeba) holds
//   img_align_celeba.zip                         the aligned faces, 178 x 218 JPEGs, as
//     img_align_celeba/000001.jpg ... 202599.jpg   downloaded (read in place, stored or
//                                                  deflated: engine/zip_archive.hpp), or
//                                                  the folder it unzips to
//   list_eval_partition.txt                      "000001.jpg 0": 0 train, 1 valid, 2 test
// directly or in DIR/celeba/ (torchvision's CelebA(root) layout); the Kaggle copy's
// list_eval_partition.csv and its doubled img_align_celeba/img_align_celeba/ are read too.
// Train is partition 0 (162,770 faces), test partition 2 (19,962); the validation
// partition is not used. One class, "face": nothing in the reference conditions on
// CelebA's identities or attributes.
//
// Each face is cut to its central square (178 x 178) and resized (options.filter, area
// by default) to 64 x 64, the size the reference's UNet has a recipe for
// (UNetConfig::celeba64), or to options' height x width. Decoding runs on every core;
// options.on_progress hears how far it is, and the engine's cancellation point runs
// between faces, so a signal stops a long read.
#include <string>

#include "datasets/image_dataset.hpp"

namespace fc::data {

constexpr int64_t kCelebaSize = 64;

// Throws a one-line fc::Error naming what is missing (and where it comes from), a bad
// line of the partition file, or a face that cannot be read.
ImageDataset load_celeba(const std::string& dir, Split split, const ImageLoadOptions& options);

}  // namespace fc::data
