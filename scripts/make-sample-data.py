#!/usr/bin/env python3
"""Write the sample court exports under sample-data/.

Two consecutive nightly batches, sample-data/20261123/ (ROC 115/11/23) and
sample-data/20261124/ (ROC 115/11/24), following
/work/shared/court-export-format.md. The data below is the readable source of
truth; sample-data/README.md lists, worked out by hand, what the ETL must make
of it. Same bytes on every run: no clocks, no randomness, no dict-order games.

Notation inside fields:
  {udc:FA40}  a CP950 user-defined code, written as its two raw bytes
              (Python's cp950 codec cannot encode or decode these correctly).
  {raw:A430}  raw bytes that are deliberately invalid CP950 (a rejected row).
Everything else is ordinary text, encoded with Python's cp950 codec (or UTF-8
for courts that have migrated). Raw(...) is a physical line written as is,
used for a row the exporter broke (an unquoted comma).

Each row carries the nights it appears in: N1 (20261123), N2 (20261124) or
BOTH. A batch is a full export, so most rows are BOTH.

Stdlib only, Python 3.11.
"""

import hashlib
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "sample-data"

N1, N2, BOTH = (1,), (2,), (1, 2)
NIGHT_DIR = {1: "20261123", 2: "20261124"}

HEADERS = {
    "case": ["法院代號", "案件類別", "年度", "字別", "案號", "股別", "案件狀態", "狀態日期"],
    "progress": ["法院代號", "案件類別", "年度", "字別", "案號", "序號", "登載日期",
                 "登載事項", "異動時間", "刪除"],
    "applicant": ["法院代號", "案件類別", "年度", "字別", "案號", "聲請人身分", "電子郵件",
                  "核准日期", "狀態"],
    "prosecutor": ["法院代號", "案件類別", "年度", "字別", "案號", "檢察官帳號"],
}


class Raw:
    """A physical line written byte for byte as given (no quoting)."""

    def __init__(self, line):
        self.line = line


# --------------------------------------------------------------------------
# EUDC.csv: user-defined codes the courts' systems map to real characters.
# Same file on both nights. Unmapped codes used below: FEFE, 8140, C8FE (→ 〓).
# --------------------------------------------------------------------------
EUDC = [
    ("FA40", 0x5803),   # 堃  lead 0xFA range
    ("8E40", 0x5CEF),   # 峯  lead 0x81-0xA0 range
    ("C6A1", 0x5586),   # 喆  lead 0xC6 range (standard decoders say ヾ: wrong)
    ("FB5C", 0x29E3D),  # 𩸽  trail byte 0x5C, and outside the BMP
]

# 500 characters exactly: the longest 登載事項 the contract allows.
LONG_TEXT = (
    "原告起訴主張：被告於民國一一四年三月間向原告承租臺北市大安區房屋一棟，約定每月租金新臺幣八萬元，"
    "租期三年，詎被告自一一四年九月起即未依約給付租金，經原告多次催告，被告仍置之不理，"
    "且擅自將房屋轉租予第三人經營餐飲業，並於屋內違法增建隔間，致房屋結構受損。"
    "原告乃依民法第四百四十條第一項、第四百四十三條第二項規定終止租約，並請求被告返還房屋、"
    "給付積欠租金及相當於租金之不當得利，暨賠償修復房屋所需費用。被告則抗辯：兩造間另有口頭約定，"
    "原告同意被告轉租，且增建隔間係經原告事前同意，原告請求之修復費用顯然過高，應由法院囑託鑑定機關鑑定。"
    "本院於準備程序中整理兩造不爭執事項及爭點如下：一、兩造間租賃契約是否業經原告合法終止；"
    "二、被告是否有未經同意轉租之情事；三、原告請求之修復費用是否有據及其數額若干。"
    "兩造同意囑託臺北市建築師公會鑑定房屋受損情形及修復費用，鑑定費用由原告先行墊付，"
    "並請兩造於文到十日內具狀陳報意見。另原告聲請傳喚房屋仲介人員到庭作證，"
    "以證明兩造訂約時並無同意轉租之約定；被告則聲請調閱臺北市政府都市發展局就系爭房屋增建部分之稽查紀錄，"
    "本院均准許，並定期續行準備程序，請兩造攜帶相關證據到庭。"
)
assert len(LONG_TEXT) == 500, len(LONG_TEXT)

# ==========================================================================
# TPD 臺灣臺北地方法院 — CP950, both nights. The court that exercises most rules.
# ==========================================================================
A = ("TPD", "民事", "115", "訴", "100")     # many entries; order by (登載日期, 序號) ≠ 序號
B = ("TPD", "刑事", "115", "訴", "100")     # same year/word/number as A, other category
C = ("TPD", "民事", "115", "訴", "212")     # 移送執行 115/09/24: queryable both nights
D = ("TPD", "民事", "114", "訴", "523")     # 上訴 115/09/23: night 1 only
E = ("TPD", "刑事", "114", "易", "310")     # 抗告 115/09/22: neither night
F = ("TPD", "刑事", "114", "訴", "88")      # 歸檔 115/10/01: both; cutoff 115/12/01
G = ("TPD", "民事", "115", "訴更一", "3")   # 審理中 → 上訴 115/11/20 on night 2
H = ("TPD", "民事", "114", "簡上", "58")    # 已終結 long ago: still queryable
I = ("TPD", "少年", "115", "少調", "12")    # out-of-scope category: ignored
J = ("TPD", "民事", "115", "訴", "300")     # invalid status: case row rejected (cascade)
K = ("TPD", "刑事", "115", "交易", "45")    # withdrawn-then-re-added entry
L = ("TPD", "民事", "115", "重訴", "77")    # 500-character text, user-defined codes
M = ("TPD", "民事", "115", "訴", "1288")    # empty 股別, no progress entries at all
O = ("TPD", "民事", "115", "訴", "1301")    # new case on night 2

TPD_CASE = [
    (BOTH, A + ("　忠　", "審理中", "")),          # 股別 padded with U+3000 → 忠
    (BOTH, B + ("孝股", "審理中", "")),
    (BOTH, C + ("信", "移送執行", "115/09/24")),
    (BOTH, D + ("仁", "上訴　", "115/09/23 ")),    # padded status and date
    (BOTH, E + ("愛", "抗告", "115/09/22")),
    (BOTH, F + ("和", "歸檔", "115/10/01")),
    (N1, G + ("平", "審理中", "")),
    (N2, G + ("平", "上訴", "115/11/20")),         # status change on night 2
    (BOTH, H + ("A", "已終結", "115/03/15")),
    (BOTH, I + ("義", "審理中", "")),
    (BOTH, J + ("忠", "審結", "")),                # BAD: 審結 is not a status → cascade
    (BOTH, K + ("B", "審理中", "")),
    (BOTH, L + ("禮股", "審理中", "")),
    (BOTH, M + ("", "審理中", "")),                # 股別 may be empty (0 characters)
    (N2, O + ("忠", "審理中", "")),                # filed on 115/11/24
]

TPD_PROGRESS = [
    # --- A 民事115訴100 -----------------------------------------------------
    (BOTH, A + ("1", "115/03/02", "分案", "115/03/02 09:12:00", "N")),
    (BOTH, A + ("1", "115/03/02", "分案", "115/03/02 09:12:00", "N")),  # exact duplicate row
    # Entry 2: the newer version comes FIRST in the file; 異動時間 decides, not order.
    (BOTH, A + ("2", "115/03/20", "函查：函請臺北市大安地政事務所查復土地登記資料",
                "115/03/21 10:05:00", "")),   # empty 刪除 = N
    (BOTH, A + ("2", "115/03/20", "函查", "115/03/20 16:40:00", "N")),   # older: loses
    (BOTH, A + ("3", "115/06/10", "　　準備程序", "115/06/10 11:00:00", "N")),  # U+3000 padding
    (BOTH, A + ("4", "115/05/02", "補登：收原告民事準備(一)狀", "115/06/12 08:30:00", "N")),
    (BOTH, A + ("5", "115/10/10", "115/11/05 14:30第五法庭準備程序", "115/10/10 15:00:00", "N")),
    (BOTH, A + ("6", "115/10/10", "通知兩造及訴訟代理人到庭", "115/10/10 15:02:00", "N")),
    # 序號 7 is posted with an older 登載日期: by (登載日期, 序號) it ranks below 6 and 5.
    (BOTH, A + ("7", "115/09/01", "函請臺北市政府警察局大安分局檢送事故資料", "115/10/12 09:00:00", "N")),
    # Night 2 news: a new hearing.
    (N2, A + ("8", "115/11/24", "115/12/10 10:00第一法庭言詞辯論", "115/11/24 10:15:00", "N")),

    # --- B 刑事115訴100 -----------------------------------------------------
    (BOTH, B + ("1", "115/02/10", "分案", "115/02/10 10:00:00", "N")),
    # Quoted: ASCII commas and doubled quotes; 許 功 蓋 have trail byte 0x5C.
    (BOTH, B + ("2", "115/03/05",
                '準備程序：被告稱"僅係出借帳戶"，辯護人聲請傳喚證人許志功, 蓋明德, 並調閱"通聯紀錄"',
                "115/03/05 17:20:00", "N")),
    # Quoted: a CRLF inside the field (one record, two physical lines).
    (BOTH, B + ("3", "115/04/12", "115/05/20 09:30第三法庭審理\r\n請被告攜帶身分證明文件到庭",
                "115/04/12 14:00:00", "N")),
    # Entry 4: two versions with the SAME 異動時間: the later row wins (11:00).
    (BOTH, B + ("4", "115/10/28", "115/11/30 10:00第三法庭宣判", "115/10/28 16:00:00", "N")),
    (BOTH, B + ("4", "115/10/28", "115/11/30 11:00第三法庭宣判", "115/10/28 16:00:00", "N")),
    # Night 2: revised text (later 異動時間).
    (N2, B + ("4", "115/10/28", "115/12/15 10:00第三法庭宣判(改期)", "115/11/24 09:20:00", "N")),

    # --- C 民事115訴212 (移送執行 115/09/24) --------------------------------
    (BOTH, C + ("1", "115/05/04", "分案", "115/05/04 09:00:00", "N")),
    (BOTH, C + ("2", "115/07/15", "115/08/05 10:00第十法庭言詞辯論", "115/07/15 11:30:00", "N")),
    # {udc:FB5C} is 𩸽 via EUDC.csv (trail byte 0x5C, non-BMP).
    (BOTH, C + ("3", "115/08/20", "宣判：被告應給付原告{udc:FB5C}魚貨款新臺幣50萬元", "115/08/20 16:00:00", "N")),
    # Entry 5 withdrawn: the 刪除=Y version is newer, though it comes first in the file.
    (BOTH, ("TPD", "民事", "115", "訴", " 212 ")     # 案號 padded with ASCII spaces
           + ("5", "115/08/25", "裁定命原告補繳裁判費", "115/08/26 09:00:00", "Y")),
    (BOTH, C + ("5", "115/08/25", "裁定命原告補繳裁判費", "115/08/25 14:00:00", "N")),
    (BOTH, C + ("4", "115/09/24", "移送本院民事執行處強制執行", "115/09/24 10:00:00", "N")),
    # Night 2 news.
    (N2, C + ("6", "115/11/24", "檢送卷宗予民事執行處", "115/11/24 11:00:00", "N")),

    # --- D 民事114訴523 (上訴 115/09/23) ------------------------------------
    (BOTH, D + ("1", "114/12/01", "分案", "114/12/01 09:00:00", "N")),
    # {udc:8140} has no EUDC.csv mapping → 〓.
    (BOTH, D + ("2", "115/08/14", "宣判：原告陳{udc:8140}之訴駁回", "115/08/14 15:00:00", "N")),
    (BOTH, D + ("3", "115/09/23", "上訴：檢送卷宗至臺灣高等法院", "115/09/23 10:00:00", "N")),

    # --- E 刑事114易310 (抗告 115/09/22) ------------------------------------
    (BOTH, E + ("1", "114/11/05", "分案", "114/11/05 09:00:00", "N")),
    (BOTH, E + ("2", "115/08/30", "裁定：駁回聲請", "115/08/30 15:00:00", "N")),
    (BOTH, E + ("3", "115/09/22", "抗告：檢送卷宗至臺灣高等法院", "115/09/22 10:00:00", "N")),

    # --- F 刑事114訴88 (歸檔 115/10/01) -------------------------------------
    (BOTH, F + ("1", "114/06/03", "分案", "114/06/03 09:00:00", "N")),
    (BOTH, F + ("2", "115/07/10", "宣判", "115/07/10 15:30:00", "N")),
    (BOTH, F + ("3", "115/08/12", "判決確定", "115/08/12 09:00:00", "N")),
    (BOTH, F + ("4", "115/10/01", "歸檔", "115/10/01 16:00:00", "N")),
    # Night 2, BAD: a lone 0x80 byte in 登載事項.
    (N2, F + ("5", "115/11/24", "聲請{raw:80}閱卷", "115/11/24 09:00:00", "N")),

    # --- G 民事115訴更一3 ---------------------------------------------------
    (BOTH, G + ("1", "115/01/15", "分案", "115/01/15 09:00:00", "N")),
    (BOTH, G + ("2", "115/06/03", "115/07/01 10:00第二法庭言詞辯論", "115/06/03 10:00:00", "N")),
    (BOTH, G + ("3", "115/09/30", "宣判", "115/09/30 16:00:00", "N")),
    # Night 1, BAD: an unquoted comma splits 登載事項: 11 fields instead of 10.
    (N1, Raw("TPD,民事,115,訴更一,3,4,115/10/05,原告具狀陳報,請求延展期日,115/10/05 10:00:00,N")),

    # --- H 民事114簡上58 (已終結 115/03/15) ---------------------------------
    (BOTH, H + ("1", "114/10/02", "分案", "114/10/02 09:00:00", "N")),
    (BOTH, H + ("2", "115/03/12", "宣判", "115/03/12 15:00:00", "N")),
    # {udc:FA40} is 堃 via EUDC.csv.
    (BOTH, H + ("3", "115/03/15", "上訴人陳{udc:FA40}明聲請核發判決確定證明書", "115/03/15 10:00:00", "N")),
    # Night 1, BAD: lead byte 0xA4 followed by 0x30 is not CP950.
    (N1, H + ("4", "115/03/20", "判決確定證明書已{raw:A430}核發", "115/03/20 10:00:00", "N")),

    # --- I 少年115少調12 (out of scope: ignored, not rejected) --------------
    (BOTH, I + ("1", "115/09/10", "調查", "115/09/10 09:00:00", "N")),
    (BOTH, I + ("2", "115/10/15", "115/11/12 09:30第二少年法庭審理", "115/10/15 10:00:00", "N")),

    # --- J 民事115訴300: its case row is rejected, so these are too ---------
    (BOTH, J + ("1", "115/07/01", "分案", "115/07/01 09:00:00", "N")),
    (BOTH, J + ("2", "115/09/15", "115/10/20 10:00第六法庭言詞辯論", "115/09/15 10:00:00", "N")),

    # --- K 刑事115交易45 ----------------------------------------------------
    (BOTH, K + ("1", "115/04/01", "分案", "115/04/01 09:00:00", "N")),
    # Entry 2: posted, withdrawn (wrong courtroom), re-added with new text.
    (BOTH, K + ("2", "115/05/12", "115/06/02 09:40第七法庭準備程序", "115/05/12 10:00:00", "N")),
    (BOTH, K + ("2", "115/05/12", "115/06/02 09:40第七法庭準備程序", "115/05/13 09:00:00", "Y")),
    (BOTH, K + ("2", "115/05/12", "115/06/02 09:40第八法庭準備程序", "115/05/13 09:05:00", "N")),
    # {udc:C8FE} has no mapping → 〓.
    (BOTH, K + ("3", "115/06/02", "準備程序：告訴人李{udc:C8FE}玲到庭，被告認罪", "115/06/02 11:00:00", "N")),
    (BOTH, K + ("4", "115/08/18", "移付調解", "115/08/18 10:00:00", "N")),
    # Night 2: entry 4, one of the latest three, is withdrawn: entry 2 moves up.
    (N2, K + ("4", "115/08/18", "移付調解", "115/11/24 08:45:00", "Y")),
    (BOTH, K + ("5", "115/10/06", "115/11/10 10:00第七法庭審理", "115/10/06 10:00:00", "N")),

    # --- L 民事115重訴77 ----------------------------------------------------
    (BOTH, L + ("1", "115/02/02", "分案", "115/02/02 09:00:00", "N")),
    # {udc:FEFE} has no mapping → 〓.
    (BOTH, L + ("2", "115/03/03", "115/04/10 10:00第十二法庭準備程序，通知證人王{udc:FEFE}華到庭",
                "115/03/03 10:00:00", "N")),
    (BOTH, L + ("3", "115/04/20", LONG_TEXT, "115/04/20 17:00:00", "N")),
    # {udc:8E40} is 峯, {udc:C6A1} is 喆, both via EUDC.csv.
    (BOTH, L + ("4", "115/07/07", "函查：函詢證人陳{udc:8E40}與吳{udc:C6A1}之送達地址", "115/07/07 10:00:00", "N")),
    (BOTH, L + ("5", "115/10/20", "115/12/03 10:30第十二法庭言詞辯論", "115/10/20 10:00:00", "N")),
    # Hearings 7 days and 1 day after night 2 on a case lawyer.chen follows
    # (reminders). Entry 7 moves entry 5's 言詞辯論 from 115/12/03 to
    # 115/12/01: one hearing, one UID, SEQUENCE 1.
    (BOTH, L + ("7", "115/11/20", "115/12/01 10:30第十二法庭言詞辯論（改期）", "115/11/20 16:00:00", "N")),
    (BOTH, L + ("8", "115/11/21", "115/11/25 14:00第十二法庭勘驗", "115/11/21 09:00:00", "N")),
    # Night 2: a late posting with an old 登載日期: ranks below the latest three.
    (N2, L + ("6", "115/04/01", "補登：收被告民事答辯狀", "115/11/24 10:00:00", "N")),
    # Night 1, BAD: 115/02/30 does not exist.
    (N1, L + ("9", "115/02/30", "收原告陳報狀", "115/03/02 10:00:00", "N")),

    # --- O 民事115訴1301 (new on night 2) -----------------------------------
    (N2, O + ("1", "115/11/24", "分案", "115/11/24 09:30:00", "N")),

    # --- Night 2, BAD: a case the case file does not have -------------------
    (N2, ("TPD", "民事", "115", "訴", "999") + ("1", "115/11/20", "分案", "115/11/20 09:00:00", "N")),
]

TPD_APPLICANT = [
    (BOTH, A + ("訴訟代理人", "  Lawyer.Chen@Example.COM  ", "115/03/10", "核准")),  # padded, mixed case
    (BOTH, A + ("原告", "wang.ming@example.com", "115/03/12", "核准")),
    (BOTH, B + ("辯護人", "lawyer.chen@example.com", "115/02/20", "核准")),
    (BOTH, B + ("告訴人", "Chen.Mei@example.org", "115/03/01", "核准")),
    (BOTH, D + ("原告", "Zhang.Li@Example.NET", "115/10/01", "核准")),      # revoked below
    (BOTH, C + ("訴訟代理人", "LAWYER.CHEN@EXAMPLE.COM", "115/05/10", "核准")),
    (BOTH, C + ("原告", "Lin.ShuFen@example.com", "115/05/11", "核准")),     # revoked on night 2
    (BOTH, D + ("被告", "wu.jh@example.com", "115/10/02", "核准")),
    (BOTH, E + ("告訴人", "ho.ming@example.org", "115/09/01", "核准")),
    (BOTH, F + ("辯護人", "Defender.Kuo@example.net", "114/07/01", "核准")),
    (BOTH, G + ("被告", "tsai.yi@example.com", "115/02/01", "核准")),
    (BOTH, (" TPD ",) + H[1:] + ("訴訟代理人", "lawyer.chen@example.com", "114/10/15", "核准")),  # padded court
    (BOTH, I + ("法定代理人", "parent.lee@example.com", "115/09/15", "核准")),  # out of scope
    (BOTH, J + ("原告", "j.plaintiff@example.com", "115/07/05", "核准")),  # BAD by cascade
    (BOTH, K + ("告訴人", "li.ml@example.net", "115/06/05", "核准")),
    (BOTH, K + ("辯護人", "def.su@example.com", "115/07/01", "撤銷")),
    (BOTH, K + ("辯護人", "Def.Su@example.com", "115/07/01", "核准")),     # same day, last row stands
    (BOTH, L + ("訴訟代理人", "lawyer.chen@example.com", "115/02/10", "核准")),
    (BOTH, D + ("原告", "zhang.li@example.net", "115/10/20", "撤銷")),    # pair with row 5: revoked
    # Night 1, BAD: 法院代號 PCD inside TPD_applicant.csv.
    (N1, ("PCD",) + A[1:] + ("被告", "huang.zw@example.net", "115/11/20", "核准")),
    # Night 2 decisions.
    (N2, A + ("被告", "Huang.Zhiwei@Example.NET", "115/11/24", "核准")),   # brand-new address
    (N2, O + ("訴訟代理人", "lawyer.chen@example.com", "115/11/24", "核准")),  # known address, new case
    (N2, C + ("原告", "lin.shufen@example.com", "115/11/24", "撤銷")),    # revokes row 7
    (N2, G + ("原告", "kuo@@example.com", "115/11/24", "核准")),          # BAD: two @
    (N2, A + ("告訴人", "wang ming@example.com", "115/11/24", "核准")),   # BAD: space inside
]

TPD_PROSECUTOR = [
    (BOTH, B + ("chen.wm",)),
    (BOTH, E + ("lin_yt-01",)),
    (BOTH, F + (" lin_yt-01 ",)),                     # padded account
    (N1, K + ("chen.wm",)),
    (N2, K + ("lin_yt-01",)),                         # reassigned on night 2
    (N1, ("TPD", "刑事", "1a5", "交易", "45", "chen.wm")),   # BAD: 年度 1a5
    (N2, K + ("chen.wm@moj",)),                       # BAD: @ is not allowed in an account
]

# ==========================================================================
# PCD 臺灣新北地方法院 — UTF-8 with BOM, both nights, no prosecutor file.
# ==========================================================================
P1 = ("PCD", "家事", "115", "家親聲", "45")
P2 = ("PCD", "行政", "115", "交", "12")
P3 = ("PCD", "民事", "115", "簡", "33")

PCD_CASE = [
    (BOTH, P1 + ("平", "審理中", "")),
    (BOTH, P2 + ("行", "已終結", "115/10/30")),
    (BOTH, P3 + ("勤", "審理中", "")),
]

PCD_PROGRESS = [
    (BOTH, P1 + ("1", "115/06/01", "分案", "115/06/01 09:00:00", "N")),
    (BOTH, P1 + ("2", "115/07/15", "115/08/12 14:00家事調解室調解", "115/07/15 10:00:00", "N")),
    (BOTH, P1 + ("3", "115/08/12", "調解不成立，移付審理", "115/08/12 16:00:00", "N")),
    (BOTH, P1 + ("4", "115/10/02", "115/11/19 10:00第二家事法庭審理", "115/10/02 10:00:00", "N")),
    (N2, P1 + ("5", "115/11/24", "裁定：酌定未成年子女權利義務之行使負擔由母任之", "115/11/24 15:00:00", "N")),
    (BOTH, P2 + ("1", "115/05/02", "分案", "115/05/02 09:00:00", "N")),
    # U+E000 is a private-use character: shown as 〓 and counted.
    (BOTH, P2 + ("2", "115/07/22", "原告林\ue000雄到庭陳述", "115/07/22 11:00:00", "N")),
    (BOTH, P2 + ("3", "115/10/30", "判決：原處分撤銷", "115/10/30 16:00:00", "N")),
    (BOTH, P3 + ("1", "115/08/03", "分案", "115/08/03 09:00:00", "N")),
    # A real rare character (U+29E3D, outside the BMP) written directly.
    (BOTH, P3 + ("2", "115/09/14", "原告主張被告積欠𩸽魚貨款", "115/09/14 10:00:00", "N")),
    # Quoted: a comma and a CRLF inside.
    (BOTH, P3 + ("3", "115/10/21", "115/12/01 09:30第三法庭言詞辯論\r\n應到：原告, 被告",
                 "115/10/21 10:00:00", "N")),
    # A mediation scheduled, then cancelled (its hearing: cancelled, SEQUENCE 1).
    (BOTH, P3 + ("4", "115/11/02", "115/11/27 14:00第三法庭調解", "115/11/02 10:00:00", "N")),
    (BOTH, P3 + ("5", "115/11/16", "115/11/27 14:00調解庭期取消", "115/11/16 10:00:00", "N")),
]

PCD_APPLICANT = [
    (BOTH, P1 + ("法定代理人", "Mother.Lin@example.org", "115/06/20", "核准")),
    (BOTH, P2 + ("原告", "lin.ahsiung@example.com", "115/05/10", "核准")),
    (BOTH, P3 + ("原告", "fishmonger@example.net", "115/08/10", "核准")),
]

# ==========================================================================
# KSD 臺灣高雄地方法院 — CP950, both nights, compact dates, leading zeros.
# ==========================================================================
K1 = ("KSD", "刑事", "0115", "訴", "000100")   # = 刑事 115 訴 100 (a third "115訴100")
K1b = ("KSD", "刑事", "115", "訴", "100")       # the same case without leading zeros
K2 = ("KSD", "民事", "115", "簡上", "007")      # 移送執行 1150923: night 1 only
K3 = ("KSD", "刑事", "099", "訴", "1234")       # 已終結 991201 (6-digit compact)
K4 = ("KSD", "民事", "99", "重訴", "5")          # 歸檔 0991201: not queryable
K5 = ("KSD", "民事", "115", "訴", "9")           # 抗告 1151020: both nights

KSD_CASE = [
    (BOTH, K1 + ("A", "審理中", "")),
    (BOTH, K2 + ("良", "移送執行", "1150923")),
    (BOTH, K3 + ("溫", "已終結", "991201")),
    (BOTH, K4 + ("恭", "歸檔", "0991201")),
    (BOTH, K5 + ("儉", "抗告", "1151020")),
]

KSD_PROGRESS = [
    (BOTH, K1 + ("001", "1150305", "分案", "1150305 09:00:00", "N")),
    (BOTH, K1b + ("2", "1150410", "準備程序", "1150410 10:30:00", "N")),
    # {udc:FA40} is 堃: EUDC.csv applies to every court's CP950 files.
    (BOTH, K1 + ("003", "1150601", "勘驗：證人蔡{udc:FA40}宏到庭", "1150601 14:00:00", "N")),
    # Entry 7 written as 007 and as 7: the same entry; the later 異動時間 wins.
    (BOTH, K1 + ("007", "1151020", "115/11/27 09:30第十四法庭審理", "1151020 09:30:00", "N")),
    (BOTH, K1b + ("7", "1151020", "115/12/04 09:30第十四法庭審理", "1151120 09:30:00", "N")),
    (N2, K1 + ("008", "1151124", "函請高雄市政府警察局檢送監視器錄影畫面", "1151124 09:10:00", "N")),
    (BOTH, K2 + ("001", "1150110", "分案", "1150110 09:00:00", "N")),
    (BOTH, K2 + ("002", "1150815", "宣判", "1150815 15:00:00", "N")),
    (BOTH, K2 + ("003", "1150923", "移送執行", "1150923 10:00:00", "N")),
    (BOTH, K3 + ("001", "0990302", "分案", "0990302 09:00:00", "N")),
    (BOTH, K3 + ("002", "0991015", "宣判", "991015 11:00:00", "N")),      # 6-digit compact date-time
    (BOTH, K3 + ("003", "99/12/01", "判決確定", "99/12/01 16:00:00", "N")),  # 2-digit slash form
    (BOTH, K4 + ("001", "0980605", "分案", "0980605 09:00:00", "N")),
    (BOTH, K4 + ("002", "0991201", "歸檔", "0991201 16:00:00", "N")),
    (BOTH, K5 + ("001", "1150220", "分案", "1150220 09:00:00", "N")),
    (BOTH, K5 + ("002", "1150930", "裁定：駁回聲請", "1150930 15:00:00", "N")),
    (BOTH, K5 + ("003", "1151020", "抗告：檢送卷宗至臺灣高等法院高雄分院", "1151020 10:00:00", "N")),
]

KSD_APPLICANT = [
    (BOTH, K1 + ("辯護人", "Kao.Lawyer@Example.com", "1150310", "核准")),
    (BOTH, K1b + ("告訴人", "su.hui@example.org", "1150312", "核准")),
    (BOTH, K2 + ("原告", "ksd.plaintiff@example.net", "1150120", "核准")),
    (BOTH, K5 + ("訴訟代理人", "kao.lawyer@example.com", "1150301", "核准")),
]

KSD_PROSECUTOR = [
    (BOTH, K1b + ("tsai.mh",)),
    (BOTH, K3 + ("kuo_jl-02",)),
]

# ==========================================================================
# TPS 最高法院 — not a fact-finding court: valid rows, ignored as out of scope.
# ==========================================================================
T1 = ("TPS", "民事", "115", "台上", "1234")
T2 = ("TPS", "刑事", "115", "台上", "567")

TPS_CASE = [
    (BOTH, T1 + ("天", "審理中", "")),
    (BOTH, T2 + ("地", "已終結", "115/11/10")),
]

TPS_PROGRESS = [
    (BOTH, T1 + ("1", "115/09/01", "分案", "115/09/01 09:00:00", "N")),
    (BOTH, T1 + ("2", "115/10/15", "115/11/26 評議", "115/10/15 10:00:00", "N")),
    (BOTH, T2 + ("1", "115/10/01", "分案", "115/10/01 09:00:00", "N")),
    (BOTH, T2 + ("2", "115/11/10", "判決：上訴駁回", "115/11/10 16:00:00", "N")),
]

TPS_APPLICANT = [
    (BOTH, T1 + ("訴訟代理人", "lawyer.chen@example.com", "115/09/05", "核准")),
]

# ==========================================================================
# HLD 臺灣花蓮地方法院 — CP950, night 1 only (absent on night 2: carried over).
# ==========================================================================
H1 = ("HLD", "民事", "115", "訴", "7")
H2 = ("HLD", "刑事", "114", "易", "15")   # 上訴 115/09/23: carried over, out on night 2

HLD_CASE = [
    (N1, H1 + ("廉", "審理中", "")),
    (N1, H2 + ("恥", "上訴", "115/09/23")),
]

HLD_PROGRESS = [
    (N1, H1 + ("1", "115/04/07", "分案", "115/04/07 09:00:00", "N")),
    # {udc:C6A1} is 喆 via EUDC.csv.
    (N1, H1 + ("2", "115/09/09", "準備程序：證人吳{udc:C6A1}到庭", "115/09/09 10:00:00", "N")),
    (N1, H1 + ("3", "115/11/02", "115/12/08 10:00第一法庭言詞辯論", "115/11/02 10:00:00", "N")),
    (N1, H2 + ("1", "114/08/20", "分案", "114/08/20 09:00:00", "N")),
    (N1, H2 + ("2", "115/09/01", "宣判", "115/09/01 15:00:00", "N")),
    (N1, H2 + ("3", "115/09/23", "上訴：檢送卷宗至臺灣高等法院花蓮分院", "115/09/23 10:00:00", "N")),
]

HLD_APPLICANT = [
    (N1, H1 + ("原告", "lee.hua@example.net", "115/04/15", "核准")),
    (N1, H2 + ("告訴人", "Hld.Victim@example.org", "114/09/01", "核准")),
]

# court -> (encoding, {kind: rows}); files are written for a night only if
# the court has at least one row for that night in its case file.
COURTS = {
    "TPD": ("cp950", {"case": TPD_CASE, "progress": TPD_PROGRESS,
                      "applicant": TPD_APPLICANT, "prosecutor": TPD_PROSECUTOR}),
    "PCD": ("utf-8-bom", {"case": PCD_CASE, "progress": PCD_PROGRESS,
                          "applicant": PCD_APPLICANT}),
    "KSD": ("cp950", {"case": KSD_CASE, "progress": KSD_PROGRESS,
                      "applicant": KSD_APPLICANT, "prosecutor": KSD_PROSECUTOR}),
    "TPS": ("cp950", {"case": TPS_CASE, "progress": TPS_PROGRESS,
                      "applicant": TPS_APPLICANT}),
    "HLD": ("cp950", {"case": HLD_CASE, "progress": HLD_PROGRESS,
                      "applicant": HLD_APPLICANT}),
}

# ==========================================================================
# Encoding
# ==========================================================================
MARKER = re.compile(r"\{(udc|raw):([0-9A-F]+)\}")


def is_udc(lead, trail):
    """The contract's user-defined code ranges."""
    trail_ok = 0x40 <= trail <= 0x7E or 0xA1 <= trail <= 0xFE
    if 0x81 <= lead <= 0xA0 or 0xFA <= lead <= 0xFE:
        return trail_ok
    if lead == 0xC6:
        return 0xA1 <= trail <= 0xFE
    if lead in (0xC7, 0xC8):
        return trail_ok
    return False


def cp950_plain(text):
    """Encode ordinary text; refuse anything that lands in a user-defined range
    (Python's cp950 maps a few HKSCS-like characters there, e.g. ヾ → C6A1)."""
    data = text.encode("cp950")
    i = 0
    while i < len(data):
        if data[i] < 0x80:
            i += 1
            continue
        assert not is_udc(data[i], data[i + 1]), (text, data[i:i + 2].hex())
        i += 2
    return data


def encode_field(text, encoding):
    if encoding == "utf-8-bom":
        assert not MARKER.search(text), text
        return text.encode("utf-8")
    out = bytearray()
    pos = 0
    for m in MARKER.finditer(text):
        out += cp950_plain(text[pos:m.start()])
        code = bytes.fromhex(m.group(2))
        if m.group(1) == "udc":
            assert len(code) == 2 and is_udc(code[0], code[1]), m.group(0)
        out += code
        pos = m.end()
    out += cp950_plain(text[pos:])
    return bytes(out)


def plain_text(text):
    """The field as the CSV layer sees it, for the quoting decision."""
    return MARKER.sub("x", text)


def encode_record(fields, encoding):
    parts = []
    for f in fields:
        b = encode_field(f, encoding)
        if any(c in plain_text(f) for c in ',"\r\n'):
            b = b'"' + b.replace(b'"', b'""') + b'"'
        parts.append(b)
    return b",".join(parts) + b"\r\n"


def encode_file(kind, rows, encoding):
    body = bytearray(b"\xef\xbb\xbf" if encoding == "utf-8-bom" else b"")
    body += encode_record(HEADERS[kind], encoding)
    for row in rows:
        if isinstance(row, Raw):
            assert not any(c in row.line for c in '"\r\n'), row.line
            body += encode_field(row.line, encoding) + b"\r\n"
        else:
            assert len(row) == len(HEADERS[kind]), row
            body += encode_record(row, encoding)
    return bytes(body)


def write_batch(night):
    out = ROOT / NIGHT_DIR[night]
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    manifest = []
    for court, (encoding, kinds) in COURTS.items():
        if not any(night in n for n, _ in kinds["case"]):
            continue  # court absent tonight
        for kind, rows in kinds.items():
            tonight = [row for nights, row in rows if night in nights]
            data = encode_file(kind, tonight, encoding)
            name = f"{court}_{kind}.csv"
            (out / name).write_bytes(data)
            manifest.append((name, len(tonight), hashlib.sha256(data).hexdigest()))

    eudc = "big5,unicode\r\n" + "".join(f"{code},{cp:X}\r\n" for code, cp in EUDC)
    (out / "EUDC.csv").write_bytes(eudc.encode("utf-8"))

    # Written last, as the transfer job does: its presence marks the batch complete.
    lines = ["file,rows,sha256"] + [f"{n},{r},{h}" for n, r, h in sorted(manifest)]
    (out / "MANIFEST.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))


def main():
    # An optional argument writes the batches elsewhere (scripts/test uses it
    # to check that the committed files are exactly what this script makes).
    global ROOT
    if len(sys.argv) > 1:
        ROOT = Path(sys.argv[1])
    for night in (1, 2):
        write_batch(night)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
