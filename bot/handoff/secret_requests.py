"""Whether an agent's reply asks the user for a secret: a mnemonic, private key, keystore,
password, payment password or verification code (the outbound guard's ``secret_request``,
``bot.handoff.guard``).

A request is a request word (提供, 发给我, 告诉我, 截图, send me, what is your…) next to a
secret word, named in any wording the secret guard's cues know (``data/secret_guard.yml``),
simplified, traditional or English. Warnings are not requests: a negation before it (请勿,
不会, never), a third party asking (有人让您…, anyone who asks…), a condition (如果…过) or
"…都是骗子" after it let the reply through. ``plain`` is the text as the detectors read it.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from bot.secret_guard.cues import DEFAULT_CUES, load_cues, phrases

# Text as the detectors read it (the references too).

_INVISIBLE = re.compile(r"[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\uffa0]")
_TAG = re.compile(r"<[^<>]{0,200}>")
# Between two Chinese characters, what only splits a word (助 记 词, 助-记-词).
_JOINED = re.compile(r"(?<=[\u4e00-\u9fff])[ \t\u3000\-_.·*~|/\\]+(?=[\u4e00-\u9fff])")


def plain(text: str) -> str:
    """``text`` folded (NFKC: full-width letters and digits), without invisible characters
    (zero-width spaces, joiners, direction marks) that would split a word."""
    folded = unicodedata.normalize("NFKC", text)
    if folded.isascii():
        return folded
    folded = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    return _INVISIBLE.sub("", folded)


# ---------------------------------------------------------------------------------------------
# Requests for a secret.


def _any(*parts: str) -> str:
    return "(?:" + "|".join(parts) + ")"


# Key words of the secret guard that name an action or anything at all, not a secret.
_GENERIC_KEY_WORDS = frozenset({"key", "export", "导出", "導出", "匯出"})
# Secrets the cues name only by their shape (a keystore) or that a request names another way.
_EXTRA_SEED_WORDS = (
    "keystore|key store|keystore file|密钥文件|密鑰文件|钱包文件|錢包文件|secret phrase|"
    "backup phrase|wallet phrase|recovery words|recovery key|wallet key|12 words|24 words|"
    "twelve words|12-word phrase|24-word phrase|助记单词|助記單詞|钱包私钥|錢包私鑰"
)
_EXTRA_CREDENTIAL_WORDS = (
    "sms code|one-time code|security code|authenticator code|安全码|安全碼|动态口令|動態口令"
)
_WORD_COUNT = r"(?:12|24|十二|二十四)\s*(?:个|個)?\s*(?:单词|單詞|词|詞)"
# Words right before "code" that make it something else (besides the cues' own).
_NOT_CODE = r"(?:qr|source|swift|postal|post|promo|coupon|discount|download|tracking|bar)[\s_-]?$"
# Words right after a secret word that make it the topic, not the thing asked for
# (提供验证码收不到的截图, 提供支付密码重置的步骤).
_TOPIC_AFTER = re.compile(
    r"收不到|没收到|沒收到|没有收到|沒有收到|不对|不對|错误|錯誤|错了|錯了|失效|过期|過期|问题|問題|"
    r"的问题|的問題|相关|相關|功能|设置|設置|规则|規則|格式|长度|長度|位数|位數|重置|修改|找回|忘记|"
    r"忘記|页面|頁面|界面|怎么|怎麼|\s*(?:reset|backup|page|screen|settings|issue|problem|error|"
    r"length|format)\b",
    re.ASCII,
)

# Request words. DIRECTED ask for something to be given to the agent (发给我, send me, 我需要您
# 的…); they ask even after 如果 or a third party. STRONG ask for it to be given out (提供, 告诉,
# 截图, what is your…). WEAK name checking it (核实, verify): a request only right before the
# secret. SOFT name typing it somewhere (输入, paste): a request for a mnemonic or key unless the
# sentence says where in the app; for a password or code only when it says here, a link or a
# site.
_ME = (
    r"(?:我(?!国|國|司|行)|咱|本人|客服|官方|专员|專員|工作人员|工作人員|技术人员|技術人員|后台|後台|"
    r"这边|這邊|此处|此處|这里|這裡)"
)
_DIRECTED = re.compile(
    _any(
        r"(?:发|發|传|傳|给|給|告诉|告訴|交|报|報|念|唸|读|讀|私信|私聊|转发|轉發|拍|截图|截圖|"
        r"贴|貼|粘贴|粘貼|回复|回覆|提供|出示|透露|分享|发送|發送|上传|上傳|复制|複製|递|遞)"
        r"(?:一下|下|一遍)?(?:给|給|到|予)?" + _ME,
        r"(?:发|發|传|傳|拍|截|报|報|送|贴|貼|递|遞)(?:一下)?(?:过来|過來|上来|上來)",
        r"(?:跟|和|对|對|向)我(?:们|們)?(?:说|說|讲|講|报|報|念|透露)",
        r"(?<!找|让|讓|叫|给|給|向|跟|问|問|帮|幫|要)我(?:们|們)?(?:这边|這邊)?"
        r"(?:需要|要|得|必须|必須|想要|想看|需|要求|让|讓|叫)(?:您|你)?"
        r"(?:的|提供|先提供|发|發|告诉|告訴|出示)?",
        r"(?:让|讓|给|給)我(?:们|們)?(?:看|查|核|瞧|检查|檢查|确认|確認|验证|驗證)",
        r"我(?:们|們)?(?:来|來)?(?:帮|幫)(?:您|你)(?:看|查|核|检查|檢查|验证|驗證|导入|導入|恢复|"
        r"恢復|找回|登录|登錄|操作)",
        r"\b(?:send|give|tell|show|forward|dm|message|email|e-mail|text|read|pass|hand|share|"
        r"provide|submit|paste|upload|type|reveal|disclose|post|drop)s?\s+(?:it\s+|them\s+|"
        r"this\s+|that\s+)?(?:over\s+)?(?:to\s+|with\s+)?(?:me|us)\b",
        r"\b(?:i|we)(?:'ll|'d|'m going to| will| would| do| must| have to| need to| just)?\s+"
        r"(?:need|require|want|have to see|need to see|must see|must have|have to check|"
        r"need to check|need to verify|have to verify)\b",
        r"\blet\s+(?:me|us)\s+(?:see|check|verify|confirm|have)\b",
    ),
    re.ASCII,
)
# A verb followed by 您/你 (but not 您的) gives to the user: 告诉您, 发给您.
_TO_USER = r"(?!\s*(?:您|你)(?!的|們|们))"
_STRONG = re.compile(
    _any(
        r"(?:告诉|告訴|发给|發給|传给|傳給|交给|交給)" + _TO_USER,
        r"提供|出示|告知|透露|发到|發到|发来|發來|回复|回覆|提交|递交|遞交|私信|私聊",
        r"(?:报|報|说|說|讲|講|念|唸|读|讀|发|發)(?:一下|一遍|出|出来|出來|上)",
        r"(?:报|報)给",
        r"(?:再|重)(?:发|發)",
        r"交出|上传|上傳|截图|截圖|截个图|截個圖|截屏|拍照|拍下|拍个照|拍個照|拍张|拍張|分享|索要|索取",
        r"(?:问|問|跟|向)(?:您|你)(?:索)?要|要一下",
        r"\b(?:provide|send|give|tell|share|show|reveal|disclose|forward|submit|upload|"
        r"screenshot|dm|read out|read|repeat|ask(?:s|ing)?\s+(?:you\s+)?for|request)s?\b",
        r"\bwhat(?:'s| is| are| was)\s+(?:your|the|ur)\b",
    ),
    re.ASCII,
)
_WEAK = re.compile(
    _any(
        r"核实|核實|核对|核對|检验|檢驗|查验|查驗",
        r"验证(?!码|碼|器)|驗證(?!碼|器)|校验(?!码|碼)|校驗(?!碼)",
        r"看一下|看看|瞧瞧|检查一下|檢查一下",
        r"\b(?:verify|confirm|check|validate|double-check)\b",
    ),
    re.ASCII,
)
_SOFT = re.compile(
    _any(
        r"输入|輸入|填写|填寫|填入|填到|填上|键入|鍵入|录入|錄入|粘贴|粘貼|贴上|貼上|贴到|貼到",
        r"复制|複製|拷贝|拷貝|导出|導出|匯出|导入|導入|打出|写在|寫在|写到|寫到|留在|留下|发在|發在",
        r"\b(?:type|enter|input|paste|export|import|fill in|key in)\b",
    ),
    re.ASCII,
)
# Importing a mnemonic happens in a wallet app: a request only when it says where else.
_IMPORT = re.compile(r"导入|導入|import")  # a verb's own text
# After a secret: asking what it is (验证码是多少, 您的助记词是什么).
_QUESTION_AFTER = re.compile(
    r"\s*(?:是|为|為)?\s*(?:多少|什么|什麼|啥|几|幾)"
    r"(?!意思|东西|東西|用|作用|概念|区别|區別|位|个|個|字|时候|時候|原因)"
    r"|\s*(?:是|为|為)\s*[:：]?\s*$|\s*呢\s*$|\s*(?:please|pls|plz)\s*$",
    re.ASCII,
)
# 把/将 before a secret: the verb after it acts on the secret (把助记词截图, 将私钥复制一下).
_BA = re.compile(r"把|将|將")

_NEGATION = re.compile(
    _any(
        r"请勿|請勿|切勿|勿|(?<!要)不要|(?<!用)不用|不必|无需|無需|毋需|(?<!需)不需要|(?<!需)不需|"
        r"(?<!会)不会|(?<!會)不會|绝不|絕不|决不|決不|从不|從不|从来不|從來不|永远不|永遠不|千万别|"
        r"千萬別|千万不|千萬不|(?<!能)不能|(?<!可)不可|不得|不许|不許|禁止|严禁|嚴禁|(?<!应)不应|"
        r"(?<!應)不應|(?<!该)不该|(?<!該)不該|谨防|謹防|小心|提防|警惕|避免|防止|拒绝|拒絕|杜绝|"
        r"杜絕|(?<!有)没有|(?<!有)沒有|没|沒",
        r"(?<![特区區识識类類级級分告离離差性辨鉴鑒个個])(?:别|別)(?![人的处處名针針墅致])",
        r"不(?=发|發|给|給|告诉|告訴|提供|透露|泄露|洩露|分享|输入|輸入|填|截图|截圖|拍|交|说|說|"
        r"传|傳|上传|上傳|索|问|問|要求|主动|主動|向|私信|私聊|回复|回覆)",
        r"\b(?:never|don't|dont|do not|doesn't|does not|won't|wont|will not|shouldn't|"
        r"should not|must not|mustn't|cannot|can't|can not|not|no one|nobody|no need|avoid|"
        r"beware|refuse|stop|nor|neither|without)\b",
    ),
    re.ASCII,
)
# A negation that scopes over a feeling, not over what follows (不要担心，别急).
_NOT_A_NEGATION = re.compile(
    r"\s*(?:担心|擔心|着急|著急|急|慌|怕|害怕|紧张|緊張|客气|客氣|介意|见外|見外|关系|關係|事)",
    re.ASCII,
)
# What starts a new request and ends a negation's reach (不要担心请把…).
_OPENER = re.compile(
    r"请(?!勿)|請(?!勿)|麻烦|麻煩|但是|但|可是|不过|不過|所以|因此|那么|那麼|那就|然后|然後|"
    r"接着|接著|现在|現在|\b(?:please|but|so|now|then|instead|however|yet|just)\b",
    re.ASCII,
)
# Before the request: it is supposed, asked about, or someone else's (如果, 是否, 有人让您).
_HYPOTHETICAL = re.compile(
    _any(
        r"如果|假如|要是|万一|萬一|一旦|若是|倘若|(?<!倘)若(?!干|幹)|假设|假設|如有",
        r"有没有|有沒有|有无|有無|曾经|曾經|自己|自行|亲自|親自",
        r"让您|讓您|叫您|(?<!需)要您|要求您|骗您|騙您|诱导您|誘導您|诱骗|誘騙|(?<!需)要我|让我|讓我|叫我|"
        r"找我要",
        r"任何人|有人|别人|別人|他人|陌生人|对方|對方|骗子|騙子|不法分子|他们|他們|冒充|假冒|"
        r"自称|自稱|所谓|所謂|声称|聲稱|号称|號稱",
        r"(?:网站|網站|网页|網頁|链接|鏈接|页面|頁面|群|app|软件|軟件|程序)[^,;]{0,4}?"
        r"(?:让|讓|要|叫|要求|请求|請求|诱导|誘導|骗|騙|索要)",
        r"\b(?:if|in case|whether|did you|have you|has anyone|had you|were you|when you|"
        r"before you|after you|once you|yourself|on your own|anyone|someone|somebody|scammers?|"
        r"fraudsters?|people|strangers?|they|he|she|impostors?|imposters?|others|other people)\b",
        r"\b(?:the app|the wallet|the system|it)\b",
        r"\b(?:a|any|the|some)\s+(?:site|website|page|link|app|message|email)s?\s+"
        r"(?:that\s+|which\s+)?(?:asks?|asking|wants?|tells?|telling|requests?|requesting)\b",
    ),
    re.ASCII,
)
# After the request: it is called a scam (…的都是骗子, …is a scam).
_SCAM = r"(?:骗子|騙子|骗局|騙局|诈骗|詐騙|钓鱼|釣魚|假冒|冒充|假的|假客服|骗人|騙人|盗号|盜號)"
_SURELY = r"(?:都|就|一定|肯定|必然|全部|全|均|绝对|絕對|必定|一律)"
_SCAM_AFTER = re.compile(
    _any(
        r"的[^,;]{0,8}?" + _SURELY + r"?(?<!不)(?:是|属于|屬於|为|為)(?:在)?" + _SCAM,
        _SURELY + r"(?:是|属于|屬於|为|為)(?:在)?" + _SCAM,
        r"(?:都|均|全)(?:不是|并非|並非)(?:我们|我們|官方|im|客服)",
        r"\b(?:is|are|it's|that's|was|were|they're|it is|that is|he's|she's)\s+(?:a\s+|an\s+|"
        r"always\s+a\s+|definitely\s+a\s+|certainly\s+a\s+)?(?:scam|scammer|fraud|fraudster|"
        r"phishing|fake|impostor|imposter|thief|criminal)s?\b",
    ),
    re.ASCII,
)
# Where a typed secret would go: here, a link, a site (a request for any secret).
_HERE = re.compile(
    r"这里|這裡|这儿|這兒|此处|此處|聊天|对话框|對話框|输入框|輸入框|对话里|對話裡|窗口|下面|下方|"
    r"下边|下邊|如下|回复|回覆|网站|網站|网页|網頁|网址|網址|链接|鏈接|連結|表格|表单|表單|小程序|"
    r"群里|群裡|群聊|私信|机器人|機器人|文档|文檔|http|www\.|"
    r"\b(?:here|below|this chat|the chat|chat box|reply|link|website|site|web page|webpage|"
    r"form|telegram|whatsapp|bot)\b",
    re.ASCII,
)
# Where in the app a user types a mnemonic or key themselves (导入钱包, the authenticator).
_IN_APP = re.compile(
    r"app|应用|應用|导入钱包|導入錢包|钱包里|錢包裡|钱包中|錢包中|钱包内|錢包內|手机上|手機上|本机|"
    r"本機|自己的手机|自己的手機|验证器|驗證器|authenticator|设置|設置|設定|登录页|登錄頁|"
    r"登录界面|登錄界面|\b(?:import wallet|your phone|your device|settings)\b",
    re.ASCII,
)
# What may stand between a weak or soft verb and the secret (输入您的12个…, enter your full…).
_FILLER = re.compile(
    r"(?:\s|[「」“”\"'《》【】:：]|<[^<>]*>|\d+|您|你|妳|的|一下|下|一|个|個|这|這|那|串|组|組|条|條|位|"
    r"们|們|完整|全部|所有|整个|整個|钱包|錢包|账户|賬戶|帳戶|账号|帳號|原来|原來|原始|正确|正確|"
    r"收到|刚才|剛才|刚刚|剛剛|最新|短信|手机|手機|邮箱|郵箱|上|里|裡|中|新|旧|舊|当前|當前|现在|"
    r"現在|二|两|兩|十|四|\b(?:your|the|my|full|whole|entire|complete|wallet's|wallet|account|"
    r"original|correct|new|current|sms|email|google|login|payment|twelve|twenty-four|word|words|"
    r"backup|recovery|secret|private|a|an|of|us|me|it|now|again)\b)*",
    re.ASCII,
)
# What ends the stretch between a request word and its secret (a clause, another verb, a
# purpose: 提供手机号以便发送验证码).
_GAP_STOP = re.compile(
    r"[,;]|以便|以免|以防|便于|便於|用于|用於|用来|用來|才能|就能|就可以|然后|然後|之前|之后|"
    r"之後|以后|以後|时候|時候|确认|確認|检查|檢查|保管|保存|备份|備份|抄|记下|記下|记住|記住|"
    r"丢失|丟失|遗失|遺失|忘记|忘記|忘了|被盗|被盜|重置|修改|找回|恢复|恢復|创建|創建|新建|"
    r"转移|轉移|转账|轉賬|轉帳|发送|發送|"
    r"\b(?:so|so that|to|in order|because|then|after|before|when|and then|or|once)\b",
    re.ASCII,
)
_SENTENCE = re.compile(r"[。！？!?\n\r]+|\.(?=\s|$)")
_CLAUSE = re.compile(r"[,;]")
MAX_GAP = 12  # characters between a request word and its secret (Chinese)
MAX_GAP_LATIN = 40  # the same with spaces between words
MAX_BA_GAP = 8  # between 把 and the secret
SCOPE = 60  # how far a negation before, or "…是骗子" after, a request reaches


@dataclass(frozen=True)
class _Words:
    """The secret words, split by what a request to type them means."""

    seeds: re.Pattern[str]  # a mnemonic, a key, a keystore: never typed but in the app
    credentials: re.Pattern[str]  # a password or a code: typed in the app all the time
    codes: re.Pattern[str]
    not_code: re.Pattern[str]


@cache
def _words() -> _Words:
    raw: dict[str, Any] = yaml.safe_load(DEFAULT_CUES.read_text(encoding="utf-8"))
    cues = load_cues()
    seeds = [
        *raw["mnemonic"]["names"],
        *(w for w in raw["private_key"]["key_words"] if str(w).lower() not in _GENERIC_KEY_WORDS),
        *_EXTRA_SEED_WORDS.split("|"),
    ]
    credentials = [*raw["password"]["cues"], *raw["verification_code"]["cues"]]
    credentials += _EXTRA_CREDENTIAL_WORDS.split("|")
    seed_pattern = phrases(_with_plurals(seeds)).pattern + "|" + _WORD_COUNT
    return _Words(
        seeds=re.compile(seed_pattern, re.IGNORECASE),
        credentials=phrases(_with_plurals(credentials)),
        codes=cues.code_cues,
        not_code=re.compile(f"(?:{cues.code_not_after.pattern})[\\s_-]?$|{_NOT_CODE}", re.I),
    )


def _with_plurals(words: Iterable[Any]) -> list[str]:
    listed = [str(w) for w in words]
    return listed + [w + "s" for w in listed if w.isascii() and w[-1:].isalpha()]


@dataclass(frozen=True)
class _Secret:
    start: int
    end: int
    word: str
    seed: bool


@dataclass(frozen=True)
class _Verb:
    start: int
    end: int
    kind: str  # directed, strong, weak, soft

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.end


def secret_requests(text: str) -> list[str]:
    """The secret words ``text`` asks for (as written, once each): empty when it asks for
    none, warns against giving them or names them otherwise."""
    found: list[str] = []
    lowered = _JOINED.sub("", _TAG.sub(" ", plain(text))).lower()
    before = ["", ""]  # the two sentences before (a list item's number is one)
    for sentence in _sentences(lowered):
        in_app = _IN_APP.search(" ".join([*before, sentence])) is not None
        for word in _requests_in(sentence, in_app):
            if word not in found:
                found.append(word)
        before = [before[1], sentence]
    return found


def _sentences(text: str) -> Iterator[str]:
    start = 0
    for end in _SENTENCE.finditer(text):
        if end.start() > start:
            yield text[start : end.start()]
        start = end.end()
    if start < len(text):
        yield text[start:]


def _requests_in(text: str, in_app: bool) -> Iterator[str]:
    """The secret words sentence ``text`` asks for; ``in_app``: it or the one before says
    where in the app (2. 选择“导入钱包”。3. 按顺序输入全部助记词。)."""
    secrets = _secret_words(text)
    if not secrets:
        return
    verbs = sorted(_verbs(text), key=lambda v: (v.start, -v.end))
    if not verbs and not any(_QUESTION_AFTER.match(text, s.end) for s in secrets):
        return
    hard = [m.span() for m in _GAP_STOP.finditer(text)]
    hard += [m.span() for m in _NEGATION.finditer(text)]
    sentence = _Sentence(
        text,
        in_app,
        here=_HERE.search(text) is not None,
        verbs=verbs,
        verb_starts=[v.start for v in verbs],
        hard=_Spans(hard),
        every=_Spans(hard + [(v.start, v.end) for v in verbs]),
    )
    for secret in secrets:
        if sentence.asks_for(secret):
            yield text[secret.start : secret.end]


def _secret_words(sentence: str) -> list[_Secret]:
    words = _words()
    found = [_Secret(m.start(), m.end(), m.group(), True) for m in words.seeds.finditer(sentence)]
    for match in words.credentials.finditer(sentence):
        if any(s.start < match.end() and match.start() < s.end for s in found):
            continue  # 私钥 is not also a 钥
        if words.codes.fullmatch(match.group()) and words.not_code.search(
            sentence, 0, match.start()
        ):
            continue  # error code, QR code
        found.append(_Secret(match.start(), match.end(), match.group(), False))
    merged: list[_Secret] = []
    for secret in sorted(found, key=lambda s: s.start):
        last = merged[-1] if merged else None
        if last is not None and not sentence[last.end : secret.start].strip():
            # One secret named in two words (2fa code, google 验证码).
            merged[-1] = _Secret(
                last.start, secret.end, sentence[last.start : secret.end], last.seed or secret.seed
            )
        else:
            merged.append(secret)
    return [s for s in merged if not _TOPIC_AFTER.match(sentence, s.end)]


def _verbs(sentence: str) -> Iterator[_Verb]:
    for kind, pattern in (
        ("directed", _DIRECTED),
        ("strong", _STRONG),
        ("weak", _WEAK),
        ("soft", _SOFT),
    ):
        for match in pattern.finditer(sentence):
            yield _Verb(match.start(), match.end(), kind)


# A strong verb after its secret asks only with a complement: 助记词发一下, 验证码报给…
_STRONG_AFTER = re.compile(
    r"(?:报|報|说|說|讲|講|念|唸|读|讀|发|發|提供|告诉|告訴|传|傳|截图|截圖|拍照|拍)"
    r"(?:一下|下|一遍|出来|出來|给|給|过来|過來)"
)


class _Spans:
    """Spans sorted by start, to ask whether one starts within a stretch."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self._spans = sorted(spans)
        self._starts = [start for start, _ in self._spans]

    def within(self, start: int, end: int, besides: tuple[int, int] | None = None) -> bool:
        """Whether a span other than ``besides`` starts in ``[start, end)``."""
        index = bisect.bisect_left(self._starts, start)
        while index < len(self._spans) and self._spans[index][0] < end:
            if self._spans[index] != besides:
                return True
            index += 1
        return False


@dataclass(frozen=True)
class _Sentence:
    """One sentence of a reply, lower case, with its request words and what stops them: a
    clause break, a negation, a purpose (``hard``), and for most words another verb too."""

    text: str
    in_app: bool
    here: bool
    verbs: list[_Verb]
    verb_starts: list[int]
    hard: _Spans
    every: _Spans

    def asks_for(self, secret: _Secret) -> bool:
        """Whether a request word before or after ``secret`` asks for it."""
        text = self.text
        first = bisect.bisect_left(self.verb_starts, secret.start - MAX_GAP_LATIN - 40)
        for verb in self.verbs[first:]:
            if verb.start > secret.end + MAX_GAP_LATIN:
                break
            if verb.end <= secret.start:  # 提供您的助记词
                gap = text[verb.end : secret.start]
                if verb.kind in ("weak", "soft"):
                    if _FILLER.fullmatch(gap) is None:
                        continue
                elif _too_long(gap) or self.every.within(verb.end, secret.start, verb.span):
                    continue
                if self._is_request(verb, secret, verb.start):
                    return True
            elif verb.start >= secret.end:  # 把助记词发给我, 助记词发一下
                gap = text[secret.end : verb.start]
                directed = verb.kind == "directed"
                stops = self.hard if directed else self.every
                if _too_long(gap) or stops.within(secret.end, verb.start, verb.span):
                    continue
                ba = self._ba_before(secret)
                bare = not directed and ba is None
                if bare and (verb.kind != "strong" or not _STRONG_AFTER.match(text, verb.start)):
                    continue  # 助记词截图还在吗: no request without 把 or a complement
                if self._is_request(verb, secret, secret.start if ba is None else ba):
                    return True
        question = _QUESTION_AFTER.match(text, secret.end)
        if question is not None:
            asking = _Verb(secret.end, question.end(), "strong")
            return self._is_request(asking, secret, secret.start)
        return False

    def _ba_before(self, secret: _Secret) -> int | None:
        """Where a 把 right before ``secret`` starts (nothing stopping it between)."""
        found = None
        for match in _BA.finditer(self.text, max(secret.start - MAX_BA_GAP - 1, 0), secret.start):
            found = match.start()
        if found is None or self.every.within(found + 1, secret.start):
            return None
        return found

    def _is_request(self, verb: _Verb, secret: _Secret, anchor: int) -> bool:
        """Whether ``verb`` on ``secret`` asks rather than warns or supposes."""
        text = self.text
        start = min(anchor, verb.start)
        end = max(verb.end, secret.end)
        clause_start = max(start - SCOPE, 0)
        for breaker in _CLAUSE.finditer(text, clause_start, start):
            clause_start = breaker.end()
        prefix = text[clause_start:start]
        if _governs(prefix, _NEGATION, skip=_NOT_A_NEGATION):
            return False
        if _SCAM_AFTER.search(text, end, end + SCOPE):
            return False
        if verb.kind != "directed":
            if _governs(prefix, _HYPOTHETICAL):
                return False
            if text[verb.end : verb.end + 1] in ("的", "过", "過", "了", "被"):
                return False  # 您提供的…, 输入过…: told, not asked
        if verb.kind == "soft":
            if self.here:
                return True
            importing = _IMPORT.fullmatch(text, verb.start, verb.end) is not None
            return secret.seed and not self.in_app and not importing
        return True


def _too_long(gap: str) -> bool:
    return len(gap) > (MAX_GAP_LATIN if gap.isascii() else MAX_GAP)


def _governs(prefix: str, pattern: re.Pattern[str], skip: re.Pattern[str] | None = None) -> bool:
    """Whether a match of ``pattern`` in ``prefix`` reaches its end (no opener after it)."""
    last = None
    for match in pattern.finditer(prefix):
        if skip is not None and skip.match(prefix, match.end()):
            continue
        last = match
    return last is not None and _OPENER.search(prefix, last.end()) is None
