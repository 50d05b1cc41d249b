use super::*;

fn decoder() -> Decoder {
    let mut eudc = HashMap::new();
    eudc.insert(0xFA40, '\u{29E3D}');
    eudc.insert(0x8E40, '喆');
    Decoder::new(eudc)
}

/// Decodes CP950 bytes; returns the text and the unmapped codes seen.
fn cp950(bytes: &[u8]) -> Result<(String, Vec<String>), InvalidBytes> {
    cp950_with(&decoder(), bytes)
}

fn cp950_with(d: &Decoder, bytes: &[u8]) -> Result<(String, Vec<String>), InvalidBytes> {
    let mut out = String::new();
    let mut udc = UdcSeen::default();
    d.decode(Encoding::Cp950, bytes, &mut out, &mut udc)?;
    Ok((out, udc.unmapped))
}

#[test]
fn first_and_last_cell_of_every_user_defined_range_is_never_hkscs() {
    // Microsoft's four CP950 EUDC blocks and the sub-range edges of the trail
    // byte (0x7E | 0xA1). Unmapped, each must come out as 〓 and be counted,
    // whatever WHATWG big5 (HKSCS) would have made of it.
    let codes: &[u16] = &[
        0x8140, 0x817E, 0x81A1, 0x8DFE, 0x8E40, 0xA0FE, 0x8840, 0x8862, 0x8864, 0x88A3, 0x88A5,
        0xC6A1, 0xC6FE, 0xC740, 0xC7FE, 0xC840, 0xC8FE, 0xFA40, 0xFA7E, 0xFAA1, 0xFEFE,
    ];
    let no_eudc = Decoder::new(HashMap::new());
    for &code in codes {
        let bytes = code.to_be_bytes();
        assert!(is_user_defined(bytes[0], bytes[1]), "{code:04X}");
        let (text, unmapped) = cp950_with(&no_eudc, &bytes).unwrap();
        assert_eq!(text, "〓", "{code:04X}");
        assert_eq!(unmapped, vec![format!("{code:04X}")]);
        // What a web decoder would do with it: a real HKSCS character, or an
        // error. We must differ from it wherever it produced a character.
        let (web, had_errors) = encoding_rs::BIG5.decode_without_bom_handling(&bytes);
        if !had_errors {
            assert_ne!(web, text, "{code:04X} must not decode as HKSCS");
        }
    }
}

#[test]
fn mapped_user_defined_codes_use_eudc() {
    let (text, unmapped) = cp950(b"\xAA\x4C\xFA\x40\xA4\x40\x8E\x40").unwrap();
    assert_eq!(text, "林\u{29E3D}一喆");
    assert!(unmapped.is_empty());
}

#[test]
fn standard_codes_next_to_user_defined_areas_decode_normally() {
    // 0xC67E is the last standard cell before the 0xC6A1 user-defined area.
    assert_eq!(cp950(b"\xC6\x7E").unwrap().0, "籲");
    assert_eq!(cp950(b"\xA1\x40").unwrap().0, "\u{3000}");
    // Microsoft's CP950 differs from WHATWG big5 here.
    assert_eq!(cp950(b"\xF9\xFE").unwrap().0, "\u{2593}");
}

#[test]
fn trail_bytes_0x5c_and_0x7c_are_part_of_the_character() {
    // 許 功 蓋 end in 0x5C (a backslash in ASCII); 弋 ends in 0x7C ('|').
    assert_eq!(
        cp950(b"\xB3\x5C\xA5\x5C\xBB\x5C\xA4\x7C").unwrap().0,
        "許功蓋弋"
    );
}

#[test]
fn invalid_byte_pairs_are_errors_with_their_offset() {
    let cases: &[(&[u8], usize, &[u8])] = &[
        (b"ab\xA4\x30", 2, b"\xA4\x30"), // ASCII digit is no trail byte
        (b"\xA4\x40\x80", 2, b"\x80"),   // 0x80 is no lead byte
        (b"\xFF", 0, b"\xFF"),           // nor is 0xFF
        (b"\xA4\x40\xA4", 2, b"\xA4"),   // lead byte at the end of the field
        (b"\xA4\x7F", 0, b"\xA4\x7F"),   // DEL is no trail byte
        (b"\xA4\xA0", 0, b"\xA4\xA0"),   // 0xA0 is no trail byte
        (b"\xA3\xC0", 0, b"\xA3\xC0"),   // unassigned in CP950 (WHATWG: ␀)
        (b"\xA3\xFE", 0, b"\xA3\xFE"),   // unassigned in both
        (b"\xC6\xA0", 0, b"\xC6\xA0"),
    ];
    for &(bytes, offset, bad) in cases {
        let err = cp950(bytes).unwrap_err();
        assert_eq!(
            (err.offset, err.bytes.as_slice()),
            (offset, bad),
            "{bytes:02X?}"
        );
    }
    let msg = cp950(b"ab\xA4\x30").unwrap_err().to_string();
    assert_eq!(msg, "invalid CP950 bytes 0xA4 0x30 at byte 3");
}

#[test]
fn utf8_private_use_becomes_geta_and_invalid_utf8_is_an_error() {
    let d = decoder();
    let mut out = String::new();
    let mut udc = UdcSeen::default();
    d.decode(
        Encoding::Utf8,
        "林\u{E000}𩸽".as_bytes(),
        &mut out,
        &mut udc,
    )
    .unwrap();
    assert_eq!(out, "林〓𩸽");
    assert_eq!(udc.unmapped, vec!["U+E000".to_string()]);
    let err = d
        .decode(Encoding::Utf8, b"ok\xE6\x9E", &mut out, &mut udc)
        .unwrap_err();
    assert_eq!(err.offset, 2);
}

#[test]
fn bom_decides_the_encoding() {
    let utf8 = Encoding::detect(b"\xEF\xBB\xBFab");
    assert_eq!(utf8, (Encoding::Utf8, &b"ab"[..]));
    let big5 = Encoding::detect(b"\xAA\xF8");
    assert_eq!(big5, (Encoding::Cp950, &b"\xAA\xF8"[..]));
}

#[test]
fn trims_ascii_and_full_width_spaces_only() {
    assert_eq!(trim(" \u{3000}忠 股\u{3000} "), "忠 股");
    assert_eq!(trim("\tx"), "\tx");
}

#[test]
fn eudc_file_bad_lines_are_reported_and_skipped() {
    let (map, errors) =
        eudc::parse_eudc(b"big5,unicode\nFA40,29E3D\nA440,4E00\nFA41,zz\nFA42\n8E40,U+5586\n");
    assert_eq!(map.len(), 2);
    assert_eq!(map[&0x8E40], '喆');
    let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![3, 4, 5]);
    assert!(errors[0].reason.contains("not a user-defined code"));
}

/// The contract's line ends are CRLF: a bad line is named by its own
/// number, as with LF (the csv reader's own count was one short with CRLF),
/// a BOM or a quoted field over two lines notwithstanding.
#[test]
fn eudc_file_bad_lines_are_named_by_their_line_with_crlf_too() {
    for (file, want) in [
        (
            &b"big5,unicode\r\nFA40,5803\r\n8E40,5CEF\r\nZZZZ,1\r\n"[..],
            vec![4],
        ),
        (b"big5,unicode\nFA40,5803\n8E40,5CEF\nZZZZ,1\n", vec![4]),
        (
            b"\xEF\xBB\xBFbig5,unicode\r\nFA41\r\nFA40,5803\r\n",
            vec![2],
        ),
        (b"big5,unicode\r\n\"FA\r\n40\",1\r\nFA41\r\n", vec![2, 4]),
    ] {
        let (_, errors) = eudc::parse_eudc(file);
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, want, "{}", String::from_utf8_lossy(file));
    }
}
