#include "viz/colormap.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "engine/error.hpp"

namespace fc::viz {

// The anchors sample matplotlib's 256-entry viridis/magma/inferno tables (by
// Nathaniel Smith and Stefan van der Walt, CC0) at t = k/64; linear interpolation
// between 65 anchors stays within one 8-bit level of the full tables.
namespace {

constexpr float kViridis[][3] = {
    {68.1f, 1.2f, 84.0f}, {69.5f, 6.5f, 90.0f}, {70.6f, 12.8f, 95.8f}, {71.5f, 18.7f, 101.2f},
    {72.0f, 24.1f, 106.3f}, {72.2f, 29.4f, 111.1f}, {72.1f, 34.5f, 115.5f}, {71.8f, 39.6f, 119.5f},
    {71.1f, 44.6f, 123.2f}, {70.2f, 49.5f, 126.4f}, {69.1f, 54.4f, 129.2f}, {67.7f, 59.2f, 131.6f},
    {66.1f, 63.9f, 133.7f}, {64.4f, 68.6f, 135.5f}, {62.6f, 73.1f, 136.9f}, {60.7f, 77.6f, 138.1f},
    {58.7f, 81.9f, 139.1f}, {56.7f, 86.2f, 139.9f}, {54.8f, 90.4f, 140.5f}, {52.9f, 94.5f, 141.0f},
    {51.0f, 98.5f, 141.4f}, {49.2f, 102.5f, 141.7f}, {47.5f, 106.4f, 142.0f}, {45.8f, 110.3f, 142.1f},
    {44.2f, 114.1f, 142.3f}, {42.6f, 117.9f, 142.3f}, {41.1f, 121.6f, 142.3f}, {39.6f, 125.4f, 142.3f},
    {38.2f, 129.1f, 142.1f}, {36.7f, 132.9f, 141.9f}, {35.3f, 136.6f, 141.5f}, {33.9f, 140.4f, 141.1f},
    {32.7f, 144.1f, 140.5f}, {31.6f, 147.8f, 139.7f}, {30.8f, 151.6f, 138.8f}, {30.5f, 155.3f, 137.6f},
    {30.7f, 159.1f, 136.2f}, {31.6f, 162.8f, 134.7f}, {33.4f, 166.5f, 132.8f}, {36.1f, 170.2f, 130.7f},
    {39.6f, 173.8f, 128.3f}, {44.0f, 177.4f, 125.7f}, {49.2f, 180.9f, 122.7f}, {55.1f, 184.4f, 119.5f},
    {61.6f, 187.8f, 115.9f}, {68.6f, 191.2f, 112.0f}, {76.2f, 194.4f, 107.9f}, {84.1f, 197.6f, 103.4f},
    {92.5f, 200.6f, 98.6f}, {101.3f, 203.5f, 93.5f}, {110.4f, 206.3f, 88.0f}, {119.8f, 209.0f, 82.3f},
    {129.6f, 211.5f, 76.3f}, {139.5f, 213.8f, 70.0f}, {149.8f, 216.0f, 63.5f}, {160.1f, 218.0f, 56.7f},
    {170.7f, 219.9f, 49.8f}, {181.3f, 221.6f, 43.0f}, {192.0f, 223.1f, 36.4f}, {202.6f, 224.6f, 30.5f},
    {213.2f, 226.0f, 26.1f}, {223.5f, 227.3f, 24.3f}, {233.7f, 228.5f, 25.7f}, {243.6f, 229.8f, 30.1f},
    {253.3f, 231.1f, 36.7f},
};

constexpr float kMagma[][3] = {
    {0.4f, 0.1f, 3.5f}, {1.5f, 1.2f, 9.4f}, {3.5f, 3.0f, 17.4f}, {6.3f, 5.3f, 25.6f},
    {10.0f, 7.9f, 33.9f}, {14.4f, 10.7f, 42.5f}, {18.8f, 13.2f, 51.5f}, {23.6f, 15.2f, 60.7f},
    {28.7f, 16.7f, 70.3f}, {34.2f, 17.4f, 80.0f}, {40.3f, 17.4f, 89.6f}, {46.8f, 16.8f, 98.6f},
    {53.7f, 15.9f, 106.4f}, {60.6f, 15.2f, 112.7f}, {67.3f, 15.3f, 117.5f}, {73.9f, 16.4f, 121.1f},
    {80.3f, 18.2f, 123.6f}, {86.7f, 20.4f, 125.5f}, {92.9f, 22.9f, 126.9f}, {99.1f, 25.4f, 127.9f},
    {105.3f, 28.0f, 128.6f}, {111.5f, 30.5f, 129.1f}, {117.7f, 32.9f, 129.4f}, {123.9f, 35.3f, 129.5f},
    {130.2f, 37.6f, 129.5f}, {136.5f, 39.8f, 129.2f}, {142.9f, 42.0f, 128.8f}, {149.3f, 44.1f, 128.1f},
    {155.8f, 46.1f, 127.2f}, {162.3f, 48.2f, 126.1f}, {168.8f, 50.3f, 124.8f}, {175.3f, 52.4f, 123.3f},
    {181.9f, 54.5f, 121.4f}, {188.4f, 56.8f, 119.4f}, {194.8f, 59.3f, 117.1f}, {201.2f, 61.9f, 114.5f},
    {207.4f, 64.8f, 111.7f}, {213.5f, 68.1f, 108.7f}, {219.3f, 71.8f, 105.6f}, {224.8f, 76.0f, 102.5f},
    {229.8f, 80.7f, 99.4f}, {234.4f, 86.1f, 96.6f}, {238.4f, 92.0f, 94.3f}, {241.8f, 98.5f, 92.6f},
    {244.6f, 105.4f, 91.8f}, {246.9f, 112.7f, 91.8f}, {248.8f, 120.1f, 92.7f}, {250.2f, 127.6f, 94.4f},
    {251.4f, 135.2f, 96.9f}, {252.3f, 142.7f, 100.1f}, {253.0f, 150.2f, 103.8f}, {253.6f, 157.7f, 108.1f},
    {253.9f, 165.2f, 112.8f}, {254.2f, 172.6f, 117.9f}, {254.3f, 180.0f, 123.3f}, {254.3f, 187.3f, 129.0f},
    {254.2f, 194.6f, 135.0f}, {254.1f, 201.9f, 141.3f}, {253.8f, 209.2f, 147.8f}, {253.5f, 216.5f, 154.6f},
    {253.2f, 223.8f, 161.6f}, {252.8f, 231.1f, 168.7f}, {252.4f, 238.3f, 176.1f}, {252.0f, 245.6f, 183.5f},
    {251.7f, 252.8f, 191.1f},
};

constexpr float kInferno[][3] = {
    {0.4f, 0.1f, 3.5f}, {1.5f, 1.2f, 9.8f}, {3.6f, 2.8f, 18.3f}, {6.5f, 4.9f, 26.9f},
    {10.7f, 7.1f, 35.8f}, {15.5f, 9.3f, 45.1f}, {20.8f, 11.0f, 54.7f}, {26.5f, 12.0f, 64.4f},
    {32.8f, 12.1f, 73.9f}, {39.5f, 11.4f, 82.7f}, {46.5f, 10.3f, 90.2f}, {53.5f, 9.5f, 96.3f},
    {60.4f, 9.3f, 100.9f}, {67.2f, 10.1f, 104.2f}, {73.8f, 11.5f, 106.6f}, {80.3f, 13.5f, 108.3f},
    {86.7f, 15.7f, 109.4f}, {93.0f, 18.1f, 110.1f}, {99.4f, 20.5f, 110.4f}, {105.7f, 22.8f, 110.4f},
    {112.0f, 25.2f, 110.1f}, {118.3f, 27.4f, 109.5f}, {124.7f, 29.7f, 108.6f}, {131.0f, 31.9f, 107.4f},
    {137.3f, 34.1f, 106.0f}, {143.7f, 36.4f, 104.3f}, {150.0f, 38.7f, 102.3f}, {156.3f, 41.0f, 100.0f},
    {162.5f, 43.4f, 97.5f}, {168.8f, 46.0f, 94.6f}, {174.9f, 48.7f, 91.6f}, {180.9f, 51.6f, 88.2f},
    {186.9f, 54.7f, 84.7f}, {192.7f, 58.0f, 80.9f}, {198.3f, 61.6f, 76.9f}, {203.7f, 65.4f, 72.8f},
    {209.0f, 69.6f, 68.5f}, {214.0f, 74.0f, 64.0f}, {218.7f, 78.8f, 59.5f}, {223.2f, 83.9f, 54.8f},
    {227.4f, 89.2f, 50.1f}, {231.3f, 94.9f, 45.3f}, {234.9f, 100.8f, 40.4f}, {238.1f, 107.0f, 35.4f},
    {241.0f, 113.4f, 30.3f}, {243.6f, 120.0f, 25.1f}, {245.8f, 126.8f, 19.8f}, {247.7f, 133.8f, 14.5f},
    {249.2f, 140.9f, 9.7f}, {250.4f, 148.2f, 6.6f}, {251.3f, 155.6f, 6.2f}, {251.8f, 163.0f, 9.2f},
    {251.9f, 170.6f, 15.2f}, {251.7f, 178.3f, 22.7f}, {251.1f, 186.1f, 31.1f}, {250.2f, 193.9f, 40.3f},
    {248.9f, 201.7f, 50.3f}, {247.2f, 209.5f, 61.2f}, {245.4f, 217.3f, 73.1f}, {243.5f, 224.9f, 86.3f},
    {241.9f, 232.3f, 101.0f}, {241.3f, 239.0f, 117.1f}, {242.7f, 245.0f, 133.8f}, {246.4f, 250.1f, 149.8f},
    {252.0f, 254.6f, 164.5f},
};

constexpr float kGray[][3] = {{0.f, 0.f, 0.f}, {255.f, 255.f, 255.f}};

template <size_t N>
constexpr int count(const float (&)[N][3]) {
  return static_cast<int>(N);
}

}  // namespace

Colormap::Colormap(std::string name, const float (*anchors)[3], int n) : name_(std::move(name)) {
  FC_CHECK(n >= 2, "colormap '" << name_ << "' needs at least 2 anchors, got " << n);
  for (int i = 0; i < kLutSize; ++i) {
    float pos = static_cast<float>(i) / (kLutSize - 1) * static_cast<float>(n - 1);
    int k = std::min(static_cast<int>(pos), n - 2);
    float f = pos - static_cast<float>(k);
    auto mix = [&](int c) {
      float v = anchors[k][c] * (1.f - f) + anchors[k + 1][c] * f;
      return static_cast<uint8_t>(std::lround(std::clamp(v, 0.f, 255.f)));
    };
    lut_[i] = RGB{mix(0), mix(1), mix(2)};
  }
}

const Colormap& viridis() {
  static const Colormap m("viridis", kViridis, count(kViridis));
  return m;
}
const Colormap& magma() {
  static const Colormap m("magma", kMagma, count(kMagma));
  return m;
}
const Colormap& inferno() {
  static const Colormap m("inferno", kInferno, count(kInferno));
  return m;
}
const Colormap& gray() {
  static const Colormap m("gray", kGray, count(kGray));
  return m;
}

const Colormap& colormap_by_name(const std::string& name) {
  if (name == "viridis") return viridis();
  if (name == "magma") return magma();
  if (name == "inferno") return inferno();
  if (name == "gray" || name == "grey") return gray();
  FC_THROW("unknown colormap '" << name << "' (expected viridis, magma, inferno or gray)");
}

RGB tab10(int i) {
  static constexpr RGB kTab10[10] = {
      {31, 119, 180}, {255, 127, 14}, {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
      {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return kTab10[((i % 10) + 10) % 10];
}

}  // namespace fc::viz
