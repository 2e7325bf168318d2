#pragma once
// Checkpoints in the safetensors format (https://github.com/huggingface/safetensors):
// an 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {"k": "v"}, "name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}}
// padded with spaces to an 8-byte boundary, then the raw little-endian data, offsets
// relative to the start of the data section. Files we write load with
// safetensors.torch.load_file, and files PyTorch writes (F32 only) load here.
#include <map>
#include <string>
#include <vector>

#include "engine/tensor.hpp"

namespace fc::nn {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// Writes the tensors (float32, CPU only: copy others with .to(Device::CPU) first) in the
// given order, contiguous, and the metadata under "__metadata__". Atomic: the bytes go to
// PATH.tmp.<pid>, which is fsynced and renamed over PATH, so an existing PATH survives any
// failure. Names must be unique, non-empty and not "__metadata__". Throws fc::Error with a
// one-line message that starts with the path.
void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

struct SafetensorsFile {
  std::vector<NamedTensor> tensors;  // in header order
  std::map<std::string, std::string> metadata;
  // The tensor called `name`, or nullptr.
  const Tensor* find(const std::string& name) const;
};

// Reads and validates a whole file into CPU tensors. Any defect (unreadable, truncated,
// bad JSON, a dtype other than F32, bad shapes or offsets, overlapping data, duplicate
// names, non-string metadata, trailing bytes) throws fc::Error with a one-line message
// that starts with the path.
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace fc::nn
