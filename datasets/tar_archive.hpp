#pragma once
// Unpacking a tar archive, gzip-compressed or not: what the CIFAR-10 tarball needs
// (cifar-10-binary.tar.gz, datasets/remote_datasets), read with zlib and this reader
// rather than a shell-out to tar.
//
// The formats GNU tar and Python's tarfile write: POSIX ustar (a 155-byte prefix before
// the 100-byte name), GNU long names ('L' members), pax extended headers ('x': path and
// size; 'g' is skipped), sizes in octal or GNU base-256. Regular files and folders are
// unpacked; links, devices and FIFOs are skipped and counted (a dataset needs none, and
// a link is how an archive writes outside its folder). A member's name must stay inside
// the folder: an absolute name or a ".." part refuses the archive.
//
// Every header's checksum is checked; the archive ends at its first zero block (as GNU
// tar reads it). Damage (a bad header, a member or the gzip stream cut short) is one
// line naming the archive and the member; the member being written is removed, the
// ones before it stay (unpacking is into a folder of its own, made whole by a rename).
// Data is copied in 1 MiB pieces, whatever size a header claims; the engine's
// cancellation point runs between pieces, so a signal stops a long unpack.
#include <cstdint>
#include <string>
#include <vector>

namespace fc::data {

struct TarFile {
  std::string name;  // as unpacked under the folder: "cifar-10-batches-bin/data_batch_1.bin"
  uint64_t size = 0;
};

struct TarContents {
  std::vector<TarFile> files;  // in archive order (a name met twice: the later one won)
  int folders = 0;
  int skipped = 0;  // links, devices, FIFOs
};

// Unpacks `archive` into `dest_dir` (made when missing).
TarContents extract_tar(const std::string& archive, const std::string& dest_dir);

}  // namespace fc::data
