//! What courts write: progress texts, names, addresses, accounts; and the
//! file writer (RFC 4180 quoting, CRLF, CP950 or UTF-8 with a BOM, raw
//! user-defined codes).

use chrono::NaiveDate;
use encoding_rs::{EncoderResult, BIG5};

use crate::hearings::{Form, Hearing};
use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Cp950,
    Utf8,
}

/// User-defined codes the batch's EUDC.csv maps.
pub const UDC_MAPPED: &[(u16, char)] = &[
    (0xFA40, '堃'),
    (0x8E40, '峯'),
    (0xC6A1, '喆'),
    (0xFB5C, '\u{29E3D}'),
];
/// User-defined codes nobody mapped (shown as 〓 after import).
const UDC_UNMAPPED: &[u16] = &[0xFEFE, 0x8140, 0xC8FE];
/// Texts carry a user-defined character as this private-use token + index
/// (mapped ones first); the file writer turns it into bytes.
const TOKEN: u32 = 0xF000;

/// A file being written: header, rows, encoded at the end.
pub struct FileText {
    text: String,
    encoding: Encoding,
    pub records: u64,
}

impl FileText {
    pub fn new(header: &[String], encoding: Encoding) -> FileText {
        let mut f = FileText {
            text: String::with_capacity(1 << 20),
            encoding,
            records: 0,
        };
        f.push_row(header.iter().map(String::as_str));
        f
    }

    pub fn row(&mut self, fields: &[String]) {
        self.records += 1;
        self.push_row(fields.iter().map(String::as_str));
    }

    fn push_row<'a>(&mut self, fields: impl Iterator<Item = &'a str>) {
        for (i, f) in fields.enumerate() {
            if i > 0 {
                self.text.push(',');
            }
            if f.contains([',', '"', '\r', '\n']) {
                self.text.push('"');
                self.text.push_str(&f.replace('"', "\"\""));
                self.text.push('"');
            } else {
                self.text.push_str(f);
            }
        }
        self.text.push_str("\r\n");
    }

    /// The file's bytes.
    pub fn finish(self) -> Vec<u8> {
        match self.encoding {
            Encoding::Utf8 => {
                let mut out = b"\xEF\xBB\xBF".to_vec();
                out.reserve(self.text.len());
                for c in self.text.chars() {
                    match token(c) {
                        Some(Ok(mapped)) => {
                            out.extend_from_slice(mapped.encode_utf8(&mut [0; 4]).as_bytes())
                        }
                        // UTF-8 files write the real character; an unmapped one
                        // stays a private-use character.
                        Some(Err(_)) => out.extend_from_slice("\u{E000}".as_bytes()),
                        None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                    }
                }
                out
            }
            Encoding::Cp950 => encode_cp950(&self.text),
        }
    }
}

/// A token's character: Ok(mapped char) or Err(unmapped code).
fn token(c: char) -> Option<Result<char, u16>> {
    let k = (c as u32).checked_sub(TOKEN)? as usize;
    if k < UDC_MAPPED.len() {
        Some(Ok(UDC_MAPPED[k].1))
    } else {
        UDC_UNMAPPED
            .get(k - UDC_MAPPED.len())
            .map(|&code| Err(code))
    }
}

fn token_code(c: char) -> Option<u16> {
    let k = (c as u32).checked_sub(TOKEN)? as usize;
    UDC_MAPPED
        .get(k)
        .map(|(code, _)| *code)
        .or_else(|| UDC_UNMAPPED.get(k - UDC_MAPPED.len()).copied())
}

fn encode_cp950(text: &str) -> Vec<u8> {
    let mut encoder = BIG5.new_encoder();
    let max = encoder
        .max_buffer_length_from_utf8_without_replacement(text.len())
        .expect("fits in memory");
    let mut out = vec![0u8; max];
    let mut written = 0;
    let mut src = text;
    loop {
        let (result, read, wrote) =
            encoder.encode_from_utf8_without_replacement(src, &mut out[written..], true);
        written += wrote;
        src = &src[read..];
        match result {
            EncoderResult::InputEmpty => break,
            EncoderResult::Unmappable(c) => {
                let code = token_code(c)
                    .unwrap_or_else(|| panic!("{c:?} is not in CP950: fix the vocabulary"));
                out[written..written + 2].copy_from_slice(&code.to_be_bytes());
                written += 2;
            }
            EncoderResult::OutputFull => unreachable!("buffer sized for the worst case"),
        }
    }
    out.truncate(written);
    out
}

const SURNAMES: &[&str] = &[
    "陳", "林", "黃", "張", "李", "王", "吳", "劉", "蔡", "楊", "許", "鄭", "謝", "郭", "洪", "曾",
    "周", "賴", "徐", "葉",
];
const GIVEN: &[&str] = &[
    "志明", "美玲", "建宏", "淑芬", "俊傑", "雅婷", "家豪", "怡君", "宗翰", "佩珊", "冠宇", "欣怡",
    "承恩", "詩涵", "柏翰",
];
const AGENCIES: &[&str] = &[
    "臺北市大安地政事務所",
    "內政部警政署",
    "財政部國稅局",
    "勞動部勞工保險局",
    "中華電信股份有限公司",
    "臺灣銀行",
    "戶政事務所",
    "法務部調查局",
];
const STEPS: &[&str] = &[
    "準備程序",
    "函查",
    "宣判",
    "調解",
    "裁定",
    "移審",
    "開庭通知",
    "收受上訴狀",
    "檢送卷宗",
    "分案",
    "閱卷",
    "送達判決正本",
    "通知補正",
    "收受準備書狀",
    "囑託鑑定",
    "核發確定證明書",
    "訊問證人",
    "勘驗現場",
    "調解不成立",
    "言詞辯論終結",
    "定期宣示判決",
    "收受答辯狀",
    "發函調閱卷證",
];

fn name(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN))
}

/// `113/08/10 10:00第一法庭言詞辯論`: a scheduled hearing, and what it
/// says.
pub fn hearing_text(rng: &mut Rng, posted: NaiveDate) -> (String, Hearing) {
    let h = Hearing::draw(rng, posted);
    let form = Form::draw(rng);
    (h.text(form), h)
}

/// A progress text as courts write them, and the hearing it schedules.
pub fn progress_text(rng: &mut Rng, posted: NaiveDate) -> (String, Option<Hearing>) {
    let roll = rng.unit();
    if (0.35..0.60).contains(&roll) {
        let (text, h) = hearing_text(rng, posted);
        return (text, Some(h));
    }
    if (0.95..0.96).contains(&roll) {
        let h = Hearing::draw(rng, posted);
        return (h.text(Form::Note), Some(h));
    }
    let text = if roll < 0.35 {
        rng.pick(STEPS).to_string()
    } else if roll < 0.85 {
        format!("{}：函請{}查復", rng.pick(STEPS), rng.pick(AGENCIES))
    } else if roll < 0.93 {
        format!(
            "{}：被告{}, 證人{}到庭",
            rng.pick(STEPS),
            name(rng),
            name(rng)
        )
    } else if roll < 0.95 {
        format!("被告稱\"{}\"，請求調查證據", rng.pick(STEPS))
    } else if roll < 0.963 {
        // Close to the 500-character limit.
        let mut t = String::from("函查：");
        let target = 300 + rng.below(190) as usize;
        while t.chars().count() < target {
            t.push_str(&format!(
                "函請{}查復{}之相關資料，",
                rng.pick(AGENCIES),
                name(rng)
            ));
        }
        t.chars().take(target).collect()
    } else if roll < 0.964 {
        let k = rng.below((UDC_MAPPED.len() + UDC_UNMAPPED.len()) as u64) as u32;
        let udc = char::from_u32(TOKEN + k).expect("private-use token");
        format!(
            "{}：證人{}{udc}{}到庭",
            rng.pick(STEPS),
            rng.pick(SURNAMES),
            rng.pick(GIVEN)
        )
    } else {
        format!(
            "{}（{}）",
            rng.pick(STEPS),
            rng.pick(&["續行", "補正", "改期", "定期"])
        )
    };
    (text, None)
}

pub fn party_email(rng: &mut Rng, court: &str, idx: u64, j: u32) -> String {
    let local = format!("p{}{idx}x{j}", court.to_ascii_lowercase());
    let domain = rng.pick(&[
        "example.com",
        "example.org",
        "example.net",
        "mail.example.com.tw",
    ]);
    if rng.chance(0.1) {
        format!(
            "{}@{}",
            local.to_ascii_uppercase(),
            domain.to_ascii_uppercase()
        )
    } else {
        format!("{local}@{domain}")
    }
}

/// A lawyer's address: skewed, so a few appear on thousands of cases.
pub fn lawyer_email(rng: &mut Rng) -> String {
    let i = (3000.0 * rng.unit().powf(2.2)) as u64;
    if rng.chance(0.1) {
        format!("Lawyer{i}@Firm{}.Example.com.tw", i % 97)
    } else {
        format!("lawyer{i}@firm{}.example.com.tw", i % 97)
    }
}

pub fn prosecutor(rng: &mut Rng) -> String {
    let surname = rng.pick(&[
        "chen", "lin", "huang", "chang", "li", "wang", "wu", "liu", "tsai", "yang",
    ]);
    let i = rng.below(1500);
    format!(
        "{surname}.{}{i}",
        rng.pick(&["wm", "yt", "ch", "jl", "mh", "sy"])
    )
}
