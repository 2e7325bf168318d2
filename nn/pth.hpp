#pragma once
// PyTorch checkpoints as torch.save writes them (1.6 and later): a ZIP of stored members
// (engine/zip_archive.hpp) holding ARCHIVE/data.pkl, the pickled object (nn/torch_pickle.hpp),
// and ARCHIVE/data/<key>, the raw little-endian storages its tensors point into. Read
// without any Python: the reference's ckpt.pth (torch.save(model.state_dict(), ...))
// loads as the tensors of a safetensors file without metadata.
#include <string>

#include "nn/safetensors.hpp"

namespace fc::nn {

// The state_dict in a .pth: the pickled dict itself when its values are tensors, else
// the dict of tensors under 'state_dict', 'model_state_dict', 'model' or 'ema' (a
// training script's {'model': ..., 'optimizer': ...}). Tensors in dict order, no
// metadata. Refused in one line that starts with the path: a damaged archive (bad CRC,
// truncated), a pickle with anything a state_dict does not need (nn/torch_pickle.hpp),
// a tensor that is not float32 (FloatStorage) or not contiguous, a storage shorter than
// its tensor, a big-endian file, duplicate names.
SafetensorsFile load_pth(const std::string& path);

}  // namespace fc::nn
