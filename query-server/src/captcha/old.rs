//! The renderer this module replaced (until the fix of issue 12), kept for
//! the solver to measure against: a 5×7 bitmap font, scaled, sheared and
//! shifted, never touching, in one flat grey each, over five noise lines
//! and dots. Only the source of randomness differs (a seed).

use super::draw::{encode, Rng};

const FONT: [[u8; 7]; 10] = [
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
];

/// The old font's bitmap of a digit (the attacker has the repository).
pub fn bitmap(d: usize) -> [u8; 7] {
    FONT[d]
}

pub fn png_seeded(digits: &str, seed: u64) -> Vec<u8> {
    let (w, h) = (200usize, 64usize);
    let mut img = vec![245u8; w * h];
    let mut r = Rng::new(seed);
    let noise: Vec<u8> = (0..256).map(|_| r.next_u64() as u8).collect();
    let mut k = 0usize;
    let mut next = || {
        k = (k + 1) % noise.len();
        noise[k] as usize
    };
    for _ in 0..5 {
        let (y0, y1) = (next() % h, next() % h);
        let shade = 120 + (next() % 80) as u8;
        for x in 0..w {
            let y = y0 as isize + (y1 as isize - y0 as isize) * x as isize / w as isize;
            img[(y as usize).min(h - 1) * w + x] = shade;
        }
    }
    for (i, c) in digits.chars().take(6).enumerate() {
        let Some(d) = c.to_digit(10) else { continue };
        let scale = 4 + next() % 2;
        let x0 = 8 + i * 31 + next() % 4;
        let y0 = 6 + next() % (h - 7 * 5 - 10);
        let shear = next() % 4;
        let shade = (next() % 60) as u8;
        for (row, bits) in FONT[d as usize].iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let y = y0 + row * scale + dy;
                        let x = x0 + col * scale + dx + (7 - row) * shear / 4;
                        if x < w && y < h {
                            img[y * w + x] = shade;
                        }
                    }
                }
            }
        }
    }
    for _ in 0..200 {
        let (x, y) = (next() * w / 256, next() * h / 256);
        img[y * w + x] = (next() % 256) as u8;
    }
    encode(&img, w, h)
}
