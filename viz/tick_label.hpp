#pragma once
// Tick labels as plots draw them: plain text, except that a power of ten written
// "10⁻⁴" (as format_log_tick makes it) gets a real raised exponent, because the
// font's superscript glyphs are too small to read at tick-label sizes.
#include <string>

#include "viz/canvas.hpp"
#include "viz/text.hpp"

namespace fc::viz {

float tick_label_width(const std::string& label, float size_px);
// Anchored like draw_text with VAlign::middle: the middle of the digits sits at y.
void draw_tick_label(Canvas& canvas, const std::string& label, float x, float y, float size_px,
                     RGB color, Align align);

}  // namespace fc::viz
