#pragma once
// Anti-aliased text with stb_truetype and DejaVu Sans. The font file is
// $FLOWCPP_FONT if set, else /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf (Debian's
// fonts-dejavu-core); it is read once and kept until the path changes.
// Sizes are the em size in pixels (as CSS px); 13-16 px reads well for tick labels.
#include <string>

#include "viz/canvas.hpp"

namespace fc::viz {

// Where the anchor point sits along the text direction.
enum class Align { left, center, right };
// Where the anchor point sits across it: the baseline, the top of the tallest
// glyphs (ascent), the middle of the capitals, or the bottom of descenders.
enum class VAlign { baseline, top, middle, bottom };

// The font path in effect: $FLOWCPP_FONT, else the DejaVu Sans default.
std::string font_path();

struct FontMetrics {
  float ascent;       // baseline to the top of the tallest glyphs, pixels, > 0
  float descent;      // baseline to the bottom of descenders, pixels, > 0
  float cap_height;   // baseline to the top of capitals and digits
  float line_height;  // baseline-to-baseline distance
};
// Throws fc::Error naming the path when the font cannot be read.
FontMetrics font_metrics(float size_px);

// Advance width of a UTF-8 string (kerning included), in pixels.
float text_width(const std::string& utf8, float size_px);

// Draws UTF-8 text with its anchor at (x, y).
void draw_text(Canvas& canvas, const std::string& utf8, float x, float y, float size_px, RGB color,
               Align align = Align::left, VAlign valign = VAlign::baseline);

// Text turned 90 degrees counter-clockwise (reads bottom to top), for y-axis labels.
// align is along the (now vertical) text: center puts the middle of the string at y;
// valign is across it: middle puts the middle of the capitals at x.
void draw_text_vertical(Canvas& canvas, const std::string& utf8, float x, float y, float size_px,
                        RGB color, Align align = Align::center, VAlign valign = VAlign::middle);

}  // namespace fc::viz
