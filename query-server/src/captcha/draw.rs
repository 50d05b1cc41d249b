//! Drawing a captcha: six digits from `glyphs`, each in a style of its own,
//! rotated, sheared, scaled and bent, with a round anti-aliased pen of
//! varying width, close enough to touch or overlap their neighbours; two
//! strokes of the same pen cross them and one thin cut runs through them.
//! Background and ink are both gradients with texture and noise, so no
//! glyph is one flat grey and no fixed threshold separates ink from paper.
//!
//! Everything random comes from one seed: a captcha's id gives the same
//! picture each time it is drawn (see `token::Keys::render_seed`).

use super::glyphs::{flatten, FONTS, MAX_TURN, STYLES};

pub const WIDTH: usize = 200;
pub const HEIGHT: usize = 64;

/// SplitMix64: small, fast and good enough to scatter pixels; never used
/// for anything secret (the seed is).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// How one glyph is placed: in glyph units, centred, then bent, sheared,
/// scaled and rotated about its centre, which lands at (`cx`, `cy`).
#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub style: usize,
    pub cx: f32,
    pub cy: f32,
    /// Pixels per glyph unit, across and down.
    pub sx: f32,
    pub sy: f32,
    /// Degrees, clockwise.
    pub rot: f32,
    pub shear: f32,
    /// Half the pen's width, in pixels.
    pub pen: f32,
    /// A gentle wave bending the glyph: amplitude, frequency, phase, across
    /// then down.
    pub bend: [f32; 6],
}

impl Place {
    /// Where a point of the glyph lands, in pixels.
    pub fn map(&self, x: f32, y: f32) -> (f32, f32) {
        let (mut u, mut v) = (x - 0.3, y - 0.5);
        let [ax, fx, px, ay, fy, py] = self.bend;
        u += ax * (fy * v + px).sin();
        v += ay * (fx * u + py).sin();
        u += self.shear * v;
        let (u, v) = (u * self.sx, v * self.sy);
        let (s, c) = self.rot.to_radians().sin_cos();
        (self.cx + u * c - v * s, self.cy + u * s + v * c)
    }
}

/// The line pieces of a placed glyph, in pixels.
pub fn pieces(digit: usize, p: &Place) -> Vec<[f32; 4]> {
    let mut unit = Vec::with_capacity(64);
    flatten(FONTS[p.style][digit], &mut unit);
    unit.iter()
        .map(|&[x0, y0, x1, y1]| {
            let (a, b) = p.map(x0, y0);
            let (c, d) = p.map(x1, y1);
            [a, b, c, d]
        })
        .collect()
}

/// Ink coverage of a round pen of half-width `pen` along a piece, into
/// `cov` (0 paper, 1 ink), keeping the larger value.
pub fn stroke(cov: &mut [f32], w: usize, h: usize, s: [f32; 4], pen: f32) {
    let [x0, y0, x1, y1] = s;
    let reach = pen + 1.0;
    let lo_x = (x0.min(x1) - reach).floor().max(0.0) as usize;
    let hi_x = ((x0.max(x1) + reach).ceil().max(0.0) as usize).min(w);
    let lo_y = (y0.min(y1) - reach).floor().max(0.0) as usize;
    let hi_y = ((y0.max(y1) + reach).ceil().max(0.0) as usize).min(h);
    let (dx, dy) = (x1 - x0, y1 - y0);
    let len2 = (dx * dx + dy * dy).max(1e-6);
    for py in lo_y..hi_y {
        for px in lo_x..hi_x {
            let (qx, qy) = (px as f32 + 0.5 - x0, py as f32 + 0.5 - y0);
            let t = ((qx * dx + qy * dy) / len2).clamp(0.0, 1.0);
            let (ex, ey) = (qx - t * dx, qy - t * dy);
            let d = (ex * ex + ey * ey).sqrt();
            let c = (pen + 0.5 - d).clamp(0.0, 1.0);
            let i = py * w + px;
            if c > cov[i] {
                cov[i] = c;
            }
        }
    }
}

/// A random curve across the whole picture, as line pieces.
fn crossing(r: &mut Rng, w: f32, h: f32) -> Vec<[f32; 4]> {
    let (y0, y1) = (r.range(0.2, 0.8) * h, r.range(0.2, 0.8) * h);
    let (cx, cy) = (r.range(0.3, 0.7) * w, r.range(-0.3, 1.3) * h);
    let n = 24;
    let at = |t: f32| {
        let u = 1.0 - t;
        (
            u * u * -4.0 + 2.0 * u * t * cx + t * t * (w + 4.0),
            u * u * y0 + 2.0 * u * t * cy + t * t * y1,
        )
    };
    let mut p = at(0.0);
    (1..=n)
        .map(|i| {
            let q = at(i as f32 / n as f32);
            let s = [p.0, p.1, q.0, q.1];
            p = q;
            s
        })
        .collect()
}

/// The placements of `n` digits: close together, overlapping at times.
pub fn layout(r: &mut Rng, n: usize) -> Vec<Place> {
    let (w, h) = (WIDTH as f32, HEIGHT as f32);
    let height = r.range(32.0, 40.0);
    let advance = r.range(26.5, 30.5);
    let start = (w - advance * (n.max(1) - 1) as f32) / 2.0 + r.range(-3.0, 3.0);
    (0..n)
        .map(|i| {
            let sy = height * r.range(0.9, 1.08);
            let style = r.below(STYLES);
            Place {
                style,
                cx: start + advance * i as f32 + r.range(-2.0, 2.0),
                cy: h / 2.0 + r.range(-4.0, 4.0),
                sx: sy * r.range(0.8, 1.1),
                sy,
                rot: r.range(-1.0, 1.0) * MAX_TURN[style],
                shear: r.range(-0.3, 0.3),
                pen: r.range(1.3, 2.3),
                bend: [
                    r.range(0.02, 0.06),
                    r.range(3.0, 7.0),
                    r.range(0.0, 6.3),
                    r.range(0.02, 0.05),
                    r.range(3.0, 7.0),
                    r.range(0.0, 6.3),
                ],
            }
        })
        .collect()
}

/// The grey pixels of a captcha, row by row, and where each digit went.
pub fn pixels(digits: &str, seed: u64) -> (Vec<u8>, Vec<Place>) {
    let (w, h) = (WIDTH, HEIGHT);
    let (wf, hf) = (w as f32, h as f32);
    let mut r = Rng::new(seed);
    let digits: Vec<usize> = digits
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| usize::from(b - b'0'))
        .take(6)
        .collect();
    let places = layout(&mut r, digits.len());
    let mut cov = vec![0f32; w * h];
    for (&d, p) in digits.iter().zip(&places) {
        // The pen swells and thins along the glyph.
        let (swell, phase) = (r.range(0.15, 0.35), r.range(0.0, 6.3));
        for (k, s) in pieces(d, p).into_iter().enumerate() {
            let pen = p.pen * (1.0 + swell * (k as f32 * 0.7 + phase).sin());
            stroke(&mut cov, w, h, s, pen);
        }
    }
    // Two strokes across: one as wide as the digits' pen (an opening that
    // removed it would take the digits with it), one thinner.
    for pen in [r.range(1.3, 2.0), r.range(0.8, 1.3)] {
        for s in crossing(&mut r, wf, hf) {
            stroke(&mut cov, w, h, s, pen);
        }
    }
    // A thin cut in the paper's colour through the ink.
    let mut cut = vec![0f32; w * h];
    let pen = r.range(0.5, 0.8);
    for s in crossing(&mut r, wf, hf) {
        stroke(&mut cut, w, h, s, pen);
    }

    // Paper and ink: a base grey, a linear gradient and a wave each, so
    // that both change across the picture and across every glyph.
    let paper = (
        r.range(200.0, 235.0),
        r.range(-28.0, 28.0),
        r.range(-18.0, 18.0),
    );
    let ink = (
        r.range(35.0, 95.0),
        r.range(-40.0, 40.0),
        r.range(-25.0, 25.0),
    );
    let wave = [
        r.range(4.0, 12.0),
        r.range(0.03, 0.12),
        r.range(0.0, 6.3),
        r.range(3.0, 8.0),
        r.range(0.08, 0.25),
        r.range(0.0, 6.3),
    ];
    let texture = (r.range(10.0, 22.0), r.range(0.1, 0.3), r.range(0.1, 0.3));
    let col: Vec<f32> = (0..w)
        .map(|x| wave[0] * (wave[1] * x as f32 + wave[2]).sin())
        .collect();
    let row: Vec<f32> = (0..h)
        .map(|y| wave[3] * (wave[4] * y as f32 + wave[5]).sin())
        .collect();
    let mut img = vec![0u8; w * h];
    for (y, row_wave) in row.iter().enumerate() {
        let fy = y as f32 / hf - 0.5;
        for (x, col_wave) in col.iter().enumerate() {
            let fx = x as f32 / wf - 0.5;
            let i = y * w + x;
            let bg = paper.0 + paper.1 * fx + paper.2 * fy + col_wave + row_wave;
            let tex = texture.0 * (texture.1 * x as f32 + texture.2 * y as f32).sin();
            let fg = (ink.0 + ink.1 * fx + ink.2 * fy + tex).min(bg - 80.0);
            let a = cov[i] * (1.0 - cut[i]);
            let noise = (r.next_u64() % 9) as f32 - 4.0;
            img[i] = (bg + (fg - bg) * a + noise).clamp(0.0, 255.0) as u8;
        }
    }
    (img, places)
}

/// Grey pixels as a PNG.
pub fn encode(img: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 * 1024);
    {
        let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        // fdeflate's fast mode: a tenth of the time of Best here, and
        // smaller too (8.7 KB against 8.9 KB on average).
        enc.set_compression(png::Compression::Fast);
        enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut writer = enc.write_header().expect("png header");
        writer.write_image_data(img).expect("png data");
    }
    out
}

/// A captcha picture of `digits` drawn from `seed`, as a PNG.
pub fn png_seeded(digits: &str, seed: u64) -> Vec<u8> {
    encode(&pixels(digits, seed).0, WIDTH, HEIGHT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_is_a_small_grey_png_and_quick_to_draw() {
        let n = 200u64;
        let (mut largest, mut total) = (0, 0);
        let (mut fastest, t) = (std::time::Duration::MAX, std::time::Instant::now());
        for seed in 0..n {
            let digits = format!("{:06}", Rng::new(seed).next_u64() % 1_000_000);
            let one = std::time::Instant::now();
            let png = png_seeded(&digits, seed);
            fastest = fastest.min(one.elapsed());
            assert_eq!(&png[1..4], b"PNG");
            largest = largest.max(png.len());
            total += png.len();
        }
        let each = t.elapsed() / n as u32;
        // Printed, not asserted: timings belong to docs/CAPTCHA.md.
        eprintln!(
            "{n} pictures: {} bytes on average, {largest} at most; \
             {each:.2?} on average to draw and encode, {fastest:.2?} at best",
            total / n as usize
        );
        assert!(largest <= 15 * 1024, "{largest} bytes");
        // The same seed, the same picture; another seed, another.
        assert_eq!(png_seeded("123456", 1), png_seeded("123456", 1));
        assert_ne!(png_seeded("123456", 1), png_seeded("123456", 2));
    }

    #[test]
    fn no_glyph_is_one_flat_grey() {
        // The ink along each digit's strokes spans many greys (gradient,
        // texture, noise): a matcher cannot pick a glyph out by its grey.
        for seed in 0..20 {
            let (img, places) = pixels("888888", seed);
            for p in &places {
                let mut cov = vec![0f32; WIDTH * HEIGHT];
                for s in pieces(8, p) {
                    stroke(&mut cov, WIDTH, HEIGHT, s, p.pen * 0.5);
                }
                let ink = (0..WIDTH * HEIGHT)
                    .filter(|&i| cov[i] > 0.99)
                    .map(|i| img[i]);
                let (lo, hi) = ink.fold((255, 0), |(lo, hi), g| (g.min(lo), g.max(hi)));
                assert!(hi - lo >= 20, "seed {seed}: ink from {lo} to {hi}");
            }
        }
    }
}
