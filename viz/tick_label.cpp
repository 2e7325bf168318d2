#include "viz/tick_label.hpp"

namespace fc::viz {

namespace {

constexpr float kExponentScale = 0.72f;

// "10⁻⁴" -> "−4"; returns false when the label is not "10" plus superscripts.
bool split_power(const std::string& label, std::string* exponent) {
  if (label.size() <= 2 || label.compare(0, 2, "10") != 0) return false;
  static const struct {
    const char* sup;
    const char* plain;
  } kMap[] = {{"\u207b", "\u2212"}, {"\u2070", "0"}, {"\u00b9", "1"}, {"\u00b2", "2"},
              {"\u00b3", "3"},      {"\u2074", "4"}, {"\u2075", "5"}, {"\u2076", "6"},
              {"\u2077", "7"},      {"\u2078", "8"}, {"\u2079", "9"}};
  std::string out;
  size_t i = 2;
  while (i < label.size()) {
    bool hit = false;
    for (const auto& m : kMap) {
      std::string s = m.sup;
      if (label.compare(i, s.size(), s) == 0) {
        out += m.plain;
        i += s.size();
        hit = true;
        break;
      }
    }
    if (!hit) return false;
  }
  *exponent = out;
  return true;
}

}  // namespace

float tick_label_width(const std::string& label, float size_px) {
  std::string ex;
  if (!split_power(label, &ex)) return text_width(label, size_px);
  return text_width("10", size_px) + 1.f + text_width(ex, size_px * kExponentScale);
}

void draw_tick_label(Canvas& canvas, const std::string& label, float x, float y, float size_px,
                     RGB color, Align align) {
  std::string ex;
  if (!split_power(label, &ex)) {
    draw_text(canvas, label, x, y, size_px, color, align, VAlign::middle);
    return;
  }
  float w = tick_label_width(label, size_px);
  float left = align == Align::left ? x : align == Align::center ? x - 0.5f * w : x - w;
  float cap = font_metrics(size_px).cap_height;
  float base = y + 0.5f * cap;  // the baseline of "10", as VAlign::middle would place it
  draw_text(canvas, "10", left, base, size_px, color);
  // The exponent's baseline halfway up the digits, as in typeset 10^k.
  draw_text(canvas, ex, left + text_width("10", size_px) + 1.f, base - 0.5f * cap, size_px * kExponentScale,
            color);
}

}  // namespace fc::viz
