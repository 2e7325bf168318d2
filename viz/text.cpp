#include "viz/text.hpp"

#include <stb/stb_truetype.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/error.hpp"

namespace fc::viz {

namespace {

constexpr const char* kDefaultFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

struct Font {
  std::string path;
  std::vector<unsigned char> data;  // stbtt_fontinfo points into this; never resized after init
  stbtt_fontinfo info{};
  float ascent = 0, descent = 0, line_gap = 0, cap_height = 0;  // font units
};

uint32_t be32(const std::vector<unsigned char>& d, size_t at) {
  return uint32_t{d[at]} << 24 | uint32_t{d[at + 1]} << 16 | uint32_t{d[at + 2]} << 8 | d[at + 3];
}

// stb_truetype trusts its input and reads wherever the table directory points, so a
// wrong file could crash it. Check that the directory and every table lie in the file.
bool plausible_font(const std::vector<unsigned char>& d) {
  if (d.size() < 12) return false;
  size_t base = 0;
  if (be32(d, 0) == 0x74746366u) {  // 'ttcf': a collection; we use its first font
    if (d.size() < 16) return false;
    base = be32(d, 12);
    if (base > d.size() - 12) return false;
  }
  uint32_t tag = be32(d, base);
  if (tag != 0x00010000u && tag != 0x74727565u /* true */ && tag != 0x4F54544Fu /* OTTO */) return false;
  size_t tables = uint32_t{d[base + 4]} << 8 | d[base + 5];
  if (tables == 0 || base + 12 + 16 * tables > d.size()) return false;
  for (size_t i = 0; i < tables; ++i) {
    size_t rec = base + 12 + 16 * i;
    uint64_t off = be32(d, rec + 8), len = be32(d, rec + 12);
    if (off + len > d.size()) return false;
  }
  return true;
}

std::shared_ptr<const Font> read_font(const std::string& path) {
  auto font = std::make_shared<Font>();
  font->path = path;
  std::ifstream in(path, std::ios::binary);
  FC_CHECK(in, "font file '" << path
                             << "' cannot be read (install fonts-dejavu-core or point "
                                "FLOWCPP_FONT at a .ttf file)");
  font->data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  FC_CHECK(plausible_font(font->data) && stbtt_InitFont(&font->info, font->data.data(),
                                                        stbtt_GetFontOffsetForIndex(font->data.data(), 0)),
           "font file '" << path << "' is not a TrueType/OpenType font");
  int a, d, g;
  stbtt_GetFontVMetrics(&font->info, &a, &d, &g);
  font->ascent = static_cast<float>(a);
  font->descent = static_cast<float>(-d);
  font->line_gap = static_cast<float>(g);
  int x0, y0, x1, y1;
  font->cap_height = stbtt_GetCodepointBox(&font->info, 'H', &x0, &y0, &x1, &y1)
                         ? static_cast<float>(y1)
                         : font->ascent * 0.7f;
  return font;
}

// One cached font; reloaded only when the resolved path changes (tests switch it).
std::shared_ptr<const Font> load_font() {
  static std::mutex mu;
  static std::shared_ptr<const Font> cached;
  std::string path = font_path();
  std::lock_guard<std::mutex> lock(mu);
  if (!cached || cached->path != path) cached = read_font(path);
  return cached;
}

// Decodes UTF-8; malformed bytes become U+FFFD instead of failing a whole label.
std::vector<int> decode_utf8(const std::string& s) {
  std::vector<int> out;
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    int cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    bool ok = len > 0 && i + len <= n;
    for (int k = 1; ok && k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      ok = (cc & 0xc0) == 0x80;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (ok) {
      out.push_back(cp);
      i += len;
    } else {
      out.push_back(0xFFFD);
      ++i;
    }
  }
  return out;
}

struct PlacedGlyph {
  int glyph;
  float pen_x;  // pixels from the start of the string
};

// Glyphs with their pen positions; returns the total advance.
float layout(const Font& f, const std::string& utf8, float scale, std::vector<PlacedGlyph>* out) {
  float pen = 0.f;
  int prev = 0;
  for (int cp : decode_utf8(utf8)) {
    int g = stbtt_FindGlyphIndex(&f.info, cp);
    if (prev) pen += scale * static_cast<float>(stbtt_GetGlyphKernAdvance(&f.info, prev, g));
    if (out) out->push_back(PlacedGlyph{g, pen});
    int adv, lsb;
    stbtt_GetGlyphHMetrics(&f.info, g, &adv, &lsb);
    pen += scale * static_cast<float>(adv);
    prev = g;
  }
  return pen;
}

// Coverage of a rendered string: mask pixel (0, baseline) is the pen's start on the
// baseline, offset by `shift_x` (< 1 px) for subpixel placement.
struct TextMask {
  int w = 0, h = 0;
  int origin_x = 0;  // mask column of the pen start
  int baseline = 0;  // mask row of the baseline
  std::vector<uint8_t> alpha;
};

TextMask render_mask(const Font& f, const std::string& utf8, float size_px, float shift_x) {
  TextMask m;
  float scale = stbtt_ScaleForMappingEmToPixels(&f.info, size_px);
  std::vector<PlacedGlyph> glyphs;
  layout(f, utf8, scale, &glyphs);
  struct Box {
    int x0, y0, x1, y1, ix;
    float frac;
  };
  std::vector<Box> boxes;
  int minx = 0, miny = 0, maxx = 0, maxy = 0;
  bool any = false;
  for (const PlacedGlyph& pg : glyphs) {
    float px = pg.pen_x + shift_x;
    int ix = static_cast<int>(std::floor(px));
    float frac = px - static_cast<float>(ix);
    Box b{};
    stbtt_GetGlyphBitmapBoxSubpixel(&f.info, pg.glyph, scale, scale, frac, 0.f, &b.x0, &b.y0,
                                    &b.x1, &b.y1);
    b.ix = ix;
    b.frac = frac;
    boxes.push_back(b);
    if (b.x1 <= b.x0 || b.y1 <= b.y0) continue;  // spaces
    minx = any ? std::min(minx, ix + b.x0) : ix + b.x0;
    maxx = any ? std::max(maxx, ix + b.x1) : ix + b.x1;
    miny = any ? std::min(miny, b.y0) : b.y0;
    maxy = any ? std::max(maxy, b.y1) : b.y1;
    any = true;
  }
  if (!any) return m;
  m.w = maxx - minx;
  m.h = maxy - miny;
  m.origin_x = -minx;
  m.baseline = -miny;
  m.alpha.assign(static_cast<size_t>(m.w) * m.h, 0);
  std::vector<uint8_t> tmp;
  for (size_t i = 0; i < glyphs.size(); ++i) {
    const Box& b = boxes[i];
    int gw = b.x1 - b.x0, gh = b.y1 - b.y0;
    if (gw <= 0 || gh <= 0) continue;
    tmp.assign(static_cast<size_t>(gw) * gh, 0);
    stbtt_MakeGlyphBitmapSubpixel(&f.info, tmp.data(), gw, gh, gw, scale, scale, b.frac, 0.f,
                                  glyphs[i].glyph);
    // Saturating add: neighbouring glyphs that touch (kerned pairs) must not erase
    // each other's edges.
    for (int y = 0; y < gh; ++y)
      for (int x = 0; x < gw; ++x) {
        uint8_t& d = m.alpha[static_cast<size_t>(b.y0 - miny + y) * m.w + (b.ix + b.x0 - minx + x)];
        d = static_cast<uint8_t>(std::min(255, d + tmp[static_cast<size_t>(y) * gw + x]));
      }
  }
  return m;
}

float align_offset(Align a, float width) {
  return a == Align::left ? 0.f : a == Align::center ? -0.5f * width : -width;
}

// Distance from the anchor to the baseline, measured "down" the glyphs.
float baseline_offset(const Font& f, VAlign v, float size_px) {
  float scale = stbtt_ScaleForMappingEmToPixels(&f.info, size_px);
  switch (v) {
    case VAlign::top: return f.ascent * scale;
    case VAlign::middle: return 0.5f * f.cap_height * scale;
    case VAlign::bottom: return -f.descent * scale;
    case VAlign::baseline: break;
  }
  return 0.f;
}

}  // namespace

std::string font_path() {
  const char* env = std::getenv("FLOWCPP_FONT");
  return env && *env ? std::string(env) : std::string(kDefaultFont);
}

FontMetrics font_metrics(float size_px) {
  auto f = load_font();
  float s = stbtt_ScaleForMappingEmToPixels(&f->info, size_px);
  return FontMetrics{f->ascent * s, f->descent * s, f->cap_height * s,
                     (f->ascent + f->descent + f->line_gap) * s};
}

float text_width(const std::string& utf8, float size_px) {
  auto f = load_font();
  return layout(*f, utf8, stbtt_ScaleForMappingEmToPixels(&f->info, size_px), nullptr);
}

void draw_text(Canvas& canvas, const std::string& utf8, float x, float y, float size_px, RGB color,
               Align align, VAlign valign) {
  auto f = load_font();
  float width = layout(*f, utf8, stbtt_ScaleForMappingEmToPixels(&f->info, size_px), nullptr);
  float start = x + align_offset(align, width);
  // Whole-pixel baseline keeps horizontal strokes crisp; x keeps its subpixel part so
  // that centred labels are truly centred.
  int base_y = static_cast<int>(std::lround(y + baseline_offset(*f, valign, size_px)));
  int ix = static_cast<int>(std::floor(start));
  TextMask m = render_mask(*f, utf8, size_px, start - static_cast<float>(ix));
  for (int my = 0; my < m.h; ++my)
    for (int mx = 0; mx < m.w; ++mx) {
      uint8_t a = m.alpha[static_cast<size_t>(my) * m.w + mx];
      if (a) canvas.blend(ix - m.origin_x + mx, base_y - m.baseline + my, color, a / 255.f);
    }
}

void draw_text_vertical(Canvas& canvas, const std::string& utf8, float x, float y, float size_px,
                        RGB color, Align align, VAlign valign) {
  auto f = load_font();
  float width = layout(*f, utf8, stbtt_ScaleForMappingEmToPixels(&f->info, size_px), nullptr);
  // The text runs upwards from start_y; "down" the glyphs points to +x on the canvas.
  float start_y = y - align_offset(align, width);
  int base_x = static_cast<int>(std::lround(x + baseline_offset(*f, valign, size_px)));
  int iy = static_cast<int>(std::ceil(start_y));
  TextMask m = render_mask(*f, utf8, size_px, static_cast<float>(iy) - start_y);
  // Mask (mx, my) -> canvas (base_x + my - baseline, iy - 1 - (mx - origin_x)):
  // a counter-clockwise quarter turn.
  for (int my = 0; my < m.h; ++my)
    for (int mx = 0; mx < m.w; ++mx) {
      uint8_t a = m.alpha[static_cast<size_t>(my) * m.w + mx];
      if (a) canvas.blend(base_x + my - m.baseline, iy - 1 - (mx - m.origin_x), color, a / 255.f);
    }
}

}  // namespace fc::viz
