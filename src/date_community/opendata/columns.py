"""The column lists of the recommended datasets (推奨データセット) we publish.

The order is part of the standard: other municipalities' tools read the files
by position as often as by name, so these tuples are never reordered.  The
tourism template writes its brackets full-width (料金（基本）) while the
events template uses half-width ones (料金(基本)); both are kept exactly as
the templates give them.
"""
from __future__ import annotations

# 観光施設一覧: 30 columns.
TOURISM_COLUMNS: tuple[str, ...] = (
    "都道府県コード又は市区町村コード", "NO", "都道府県名", "市区町村名", "名称", "名称_カナ", "名称_英語",
    "POIコード", "住所", "方書", "緯度", "経度", "利用可能曜日", "開始時間", "終了時間", "利用可能日時特記事項",
    "料金（基本）", "料金（詳細）", "説明", "説明_英語", "アクセス方法", "駐車場情報", "バリアフリー情報",
    "連絡先名称", "連絡先電話番号", "連絡先内線番号", "画像", "画像_ライセンス", "URL", "備考",
)

# イベント一覧: 32 columns.
EVENT_COLUMNS: tuple[str, ...] = (
    "都道府県コード又は市区町村コード", "NO", "都道府県名", "市区町村名", "イベント名", "イベント名_カナ",
    "イベント名_英語", "開始日", "終了日", "開始時間", "終了時間", "開始日時特記事項", "説明", "料金(基本)",
    "料金(詳細)", "連絡先名称", "連絡先電話番号", "連絡先内線番号", "主催者", "場所名称", "住所", "方書",
    "緯度", "経度", "アクセス方法", "駐車場情報", "定員", "参加申込終了日", "参加申込終了時間", "参加申込方法",
    "URL", "備考",
)

# Who publishes: Date City, Fukushima (全国地方公共団体コード with its check digit).
MUNICIPALITY_CODE = "072133"
PREFECTURE = "福島県"
MUNICIPALITY = "伊達市"

# Our extension file: the texts the standard has no columns for.  Keys first,
# then one block of fields per language.  "kana" exists for Japanese only.
I18N_LOCALES: tuple[str, ...] = ("ja", "en", "zh_Hans", "zh_Hant", "ko")
I18N_TEXT_FIELDS: tuple[str, ...] = ("name", "summary", "body", "hours", "closed", "fee", "access", "parking",
                                     "barrier_free")
I18N_KEY_COLUMNS: tuple[str, ...] = ("slug", "code")


def i18n_columns() -> tuple[str, ...]:
    """``slug, code, name_ja, kana_ja, summary_ja, …, barrier_free_ko``."""
    out = list(I18N_KEY_COLUMNS)
    for locale in I18N_LOCALES:
        for field in I18N_TEXT_FIELDS:
            out.append(f"{field}_{locale}")
            if field == "name" and locale == "ja":
                out.append("kana_ja")
    return tuple(out)


I18N_COLUMNS = i18n_columns()


def file_name(dataset: str) -> str:
    """The standard's file name for one of our datasets: ``072133_tourism.csv``."""
    return f"{MUNICIPALITY_CODE}_{dataset}.csv"


TOURISM_FILE = file_name("tourism")
EVENTS_FILE = file_name("event")
TOURISM_I18N_FILE = file_name("tourism_i18n")
