"""Rule-based triage: bilingual (Chinese/English) signals that decide whether a person must take over.

Cheap and synchronous (the desk bot calls it on every message). Each rule is a regular expression over the
customer's cleaned text (NFKC, escape sequences and invisible characters removed, so full-width digits and
zero-width tricks do not hide a signal). The route is the most severe signal's; a model may add its own
judgement later, but it can only raise the route, never lower it (see `combine`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from agentdesk.ai.text import clean, find_amounts, for_rules, message_text
from agentdesk.ai.types import Conversation, Route, Signal, TriageResult, worst

DEFAULT_AMOUNT_THRESHOLD = 500.0


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str
    route: Route
    description: str
    pattern: re.Pattern[str]
    #: a match preceded (within a few characters) by one of these is hypothetical or negated
    unless_before: re.Pattern[str] | None = None
    #: when set, the same message must also match this (e.g. an order or account context)
    context: re.Pattern[str] | None = None


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE)


_NO_NEED = re.compile(r"(不用|不要|无需|不需要|没必要|no need|don'?t|do not|not)[\w\s]{0,16}$", re.IGNORECASE)
_HYPOTHETICAL = re.compile(
    r"(会不会|会否|是否|能否|防止|防|不会|没有|没|有没有|怕|担心|if|whether|prevent|not|never|no)\W{0,2}\w{0,3}$",
    re.IGNORECASE,
)

#: hypothetical or negated damage ("会不会泡坏地板", "如果漏水弄坏了地板怎么办", "it didn't damage my floor")
_DAMAGE_UNLESS = re.compile(
    r"(会不会|会否|是否|能否|会|可能|能|怕|担心|如果|万一|要是|假如|防止|防|不会|没有|没|有没有|不|"
    r"if|whether|prevent|not|never|no|could|would|will|might|may|can|does|do)\W{0,2}\w{0,3}$",
    re.IGNORECASE,
)
#: property damage: verbs for damage done by a product to something else (past/result forms only)
_ZH_DAMAGE = r"(?:弄坏|搞坏|整坏|烧坏|烧毁|烧黑|烫坏|泡坏|泡烂|泡湿|淹了|淹坏|损坏|毁坏|毁掉|毁了|弄脏|腐蚀|染色|划花|刮花)"
#: what the customer bought, or the parcel (damage to these is transit damage or a quality fault: FAQ)
_ZH_NOT_PROPERTY = (
    r"(?![^。！？!?，,]{0,4}(?:包裹|快递|外箱|箱子|包装|订单|商品|东西|货|心情|一天|周末|假期|生日))"
)
_ZH_PROPERTY = (
    r"(?:木?地板|地砖|墙面?|墙壁|墙纸|天花板|吊顶|家具|家俱|地毯|沙发|柜子|橱柜|桌子|桌面|餐桌|床垫?|衣服|衣物|"
    r"窗帘|插座|插排|插线板|电线|线路|电路|电表|楼下|邻居家?|房子|房间|家里|屋里|屋企|厨房|卫生间|浴室|车)"
)
_EN_DAMAGE = r"(?:ruined|damaged|destroyed|wrecked|stained|flooded|warped|soaked|scorched|fried|melted|burn(?:ed|t) (?:out|through))"
#: the purchase itself, the parcel, or something abstract: not someone's property
_EN_NOT_PROPERTY = (
    r"(?!(?:new |whole |entire )?(?:parcel|package|box|order|item|delivery|shipment|purchase|product|"
    r"goods|contents|packaging|day|weekend|holiday|vacation|trip|evening|night|morning|mood|birthday|plans?|life|"
    r"experience|credit|chances?|reputation)\b)"
)
_EN_PROPERTY = (
    r"(?:floors?|flooring|carpets?|rugs?|walls?|ceiling|furniture|sofa|couch|table|desk|cabinets?|cupboards?|"
    r"kitchen|bathroom|house|home|flat|apartment|room|bed|mattress|clothes|clothing|laundry|curtains?|outlets?|"
    r"sockets?|wiring|circuit|fuse ?box|car|neighbou?r'?s?(?: \w+)?|downstairs)"
)

RULES: tuple[Rule, ...] = (
    # --- escalate_urgent ---------------------------------------------------------------------------------
    Rule(
        "self_harm",
        "escalate_urgent",
        "self-harm statement",
        _rx(
            r"不想活|活不下去|活着没意思|想死|自杀|轻生|跳楼|割腕|寻死|结束(我的|自己的)?生命|了结自己|一了百了",
            r"\bdon'?t want to be (here|alive) anymore|\bno point (in )?living",
            r"想不开|安眠药|烧炭|跳河|跳江|不如死了|死了算了|遗书",
            r"\bkill(ing)? myself\b|\bsuicid|\bend (my life|it all)\b|\bwant(ed)? to die\b|\btake my (own )?life\b",
            r"\b(don'?t|do not) want to (live|be alive)\b|\bself[- ]harm|\bhurt(ing)? myself\b|\bbetter off dead\b",
            r"\bno reason to live\b",
        ),
    ),
    Rule(
        "threat",
        "escalate_urgent",
        "threat",
        _rx(
            r"让你们好看|给你们好看|要你们好看|走着瞧|你们等着|等着瞧|弄死|砍死|杀了你|炸了你们|收拾你们|找人(收拾|弄)",
            r"上门找你们|堵你们|不会放过|饶不了|后果自负|没完",
            r"\bi know where (you|your)\b|\bi'?ll come (down |over )?(there|to you)|\byou'?ll pay\b|\bhunt you",
            r"知道你们(公司|仓库|办公室)?在哪|找上门|上门(算账|讨说法)|你给我等着|弄你|搞死|捅",
            r"\byou'?ll (regret|be sorry|pay for)\b|\bi'?ll (find|get) you\b|\bwatch your back\b|\bkill (you|u)\b",
            r"\bburn (it|your \w+) down\b|\bor else\b|\bcome (down )?to your (office|store|warehouse) and\b",
        ),
    ),
    Rule(
        "abuse",
        "escalate_urgent",
        "abuse or harassment",
        _rx(
            r"(是|都|全)死人|死人吗|死人啊|废物|垃圾(客服|公司|平台|商城|店|服务)|你们(真|就是|都是)?垃圾|什么垃圾",
            r"傻[逼比屄bB]|煞笔|沙比|\bsb\b|脑残|智障|白痴|弱智|滚蛋|滚开|给我滚|你滚|妈的|他妈|tmd|nmsl|cnm|去死",
            r"混蛋|王八蛋|狗东西|畜生|贱人|你们(是|就是)?骗子|骗子公司|狗日",
            r"滚犊子|去你的|你妈(的|逼|个|b)|尼玛|你麻痹|狗屎|吃屎|你(家)?住(在)?哪|\bbullshit|\bcrap\b|\bscrew you|\bgo to hell|\bpiss off|\bshut up|\bdamn you",
            r"仆街|扑街|屌你|戆鸠|on9|蠢货|人渣|败类|美女客服约|约吗|陪我睡|裸照",
            r"\bf+u+c+k|\bshit|\bbitch|\basshole|\bbastard|\bmoron|\bidiot|\bretard|\bstupid\b|\bdumb\b|\bcunt\b",
            r"\byou (guys |people )?(are|r) (useless|worthless|pathetic|a joke|clowns|thieves)\b|\bscammers?\b|\bwtf\b",
        ),
    ),
    Rule(
        "legal",
        "escalate_urgent",
        "legal threat",
        _rx(
            r"起诉|上诉|告你们|告到|法院|律师|律师函|法律途径|法律手段|诉讼|仲裁|报警|公安|派出所|立案",
            r"打官司|法律程序|法律责任|追究.{0,4}责任|see you in court|legal proceedings|take (you|this) to court",
            r"\bclass action|\blegal team|\bsmall-claims",
            r"\bsue\b|\bsuing\b|\blawsuit|\blawyer|\battorney|\bcourt\b|\blegal action|\bsmall claims|\bsolicitor",
            r"\bpolice\b|\blitigat",
        ),
    ),
    Rule(
        "regulator",
        "escalate_urgent",
        "regulator complaint threat",
        _rx(
            r"(?<!\d)(12315|12345)(?!\d)|消协|消费者协会|市场监管|监管部门|监管局|工商局|工商部门|市监局|315晚会|3\.15|银保监|网信办",
            r"市场监督|消保委|消委会|质监局|物价局|邮政管理局|(?<!\d)(12305|12358|12365)(?!\d)|向有关部门(投诉|举报)|举报你们",
            r"\breport (you|this|your \w+) to (the )?(authorities|regulators?|government|samr)",
            r"\bconsumer (protection|council|association|rights)|\bregulator|\btrading standards|\bftc\b|\bbbb\b",
            r"\bombudsman|\bconsumer affairs",
        ),
    ),
    Rule(
        "chargeback",
        "escalate_urgent",
        "chargeback threat",
        _rx(
            r"拒付|信用卡争议|银行争议|向银行(申诉|投诉|申请)|找银行|发卡行|撤销交易|止付|冻结付款",
            r"(投诉|申诉|举报)到?(银行|发卡行|支付宝|微信支付|paypal)|(支付宝|微信)(投诉|申诉|争议)|退单申诉",
            r"\bdispute (it|this)\b|\b(credit )?card (company|issuer)\b[^.!?]{0,20}\b(dispute|reverse|refund)",
            r"\bcharge ?back|\bdispute (the|this|my|a) (charge|payment|transaction)|\bdispute with (my|the) (bank|card)",
            r"\b(call|contact|tell) my bank\b|\breverse the (charge|payment)|\bfile a (dispute|claim) with\b",
            r"\bpaypal (dispute|claim)",
        ),
    ),
    Rule(
        "media",
        "escalate_urgent",
        "media exposure threat",
        _rx(
            r"曝光|媒体|记者|电视台|热搜|黑猫投诉|上新闻",
            r"(发|挂|晒|发帖|发到|投诉到|告诉)[^。！？!?]{0,6}(微博|抖音|小红书|网上|朋友圈|知乎|b站|快手)",
            r"\bjournalist|\breporter|\bthe press\b|\bmedia\b|\bgo(ing)? public\b|\bviral\b|\bnewspaper|\bthe news\b",
            r"\b(post|share|put|write)\b[^.!?]{0,20}\b(online|twitter|tiktok|reddit|facebook|instagram|youtube)\b",
        ),
    ),
    Rule(
        "safety",
        "escalate_urgent",
        "product safety incident",
        _rx(
            r"冒火花|火花|起火|着火|冒烟|烧焦|焦味|焦糊|糊味|爆炸|炸了|爆了|漏电|触电|电到|短路|自燃|鼓包|融化|熔化|冒火",
            r"燃气泄漏|煤气泄漏|燃气味|煤气味|爆裂|炸裂|电池膨胀|有毒|毒气|烫得不能碰|\bgas leak|\btoxic|\bfumes",
            r"\belectrocut|\bleaking gas|\bsmells? (of )?gas\b|\bburst into",
            r"\bspark(s|ed|ing)?\b|\bcaught fire|\bon fire\b|\bfire hazard|\bstarted a fire|\bsmok(e|ed|ing)\b",
            r"\bburning smell|\bsmell(s|ed)? (of )?burn|\bexplod|\belectric(al)? shock|\bshocked me|\bmelt(ed|ing)\b",
            r"\bshort[- ]circuit|\boverheat(ed|ing|s)\b|\bswollen battery|\bbattery (is )?swell",
            # a product that burned something else (not "电机烧坏了": a motor burned out is a quality fault)
            r"烧(坏|毁|黑|焦|穿|糊)(了|咗)?(我|我们)?(家|屋企)?的?"
            + _ZH_PROPERTY
            + r"|把"
            + _ZH_PROPERTY
            + r"[^。！？!?]{0,4}烧(坏|毁|黑|焦|穿|糊|了)",
            r"\bscorch(ed|ing)?\b|\bburn(ed|t)? (a hole|through|marks?)\b|\bburn marks?\b",
        ),
        unless_before=_HYPOTHETICAL,
    ),
    Rule(
        "injury",
        "escalate_urgent",
        "injury",
        _rx(
            r"受伤|烫伤|烫了|被烫|烧伤|割伤|划伤|划破|流血|出血|骨折|住院|去医院|看医生|急诊|过敏|中毒|被电|砸到|砸伤|夹伤",
            r"误食|误吞|吞下.{0,4}(电池|零件|磁|珠|小)|噎(住|到)|窒息|红肿|\bchok(ed|ing)\b|\bswallowed (a|the|some) \w+|\brash\b|\bblister",
            r"\b(got|was|is|were|been) (badly )?hurt\b|\bstitches\b|\bwounded\b",
            r"(手|脚|脸|眼睛|孩子|宝宝|小孩|老人|皮肤)[^。！？!?]{0,4}(烫|伤|肿|破|流血|起泡)",
            r"\binjur|\bhurt (me|my|him|her|them|us|badly)\b|\bburn(ed|t) (me|my|him|her)\b|\bscald|\bbleed",
            r"\bhospital|\bemergency room|\ballergic reaction|\bpoison|\bbroke (my|his|her) \w+|\bcut (my|his|her) \w+",
        ),
        unless_before=_HYPOTHETICAL,
    ),
    Rule(
        "account_takeover",
        "escalate_urgent",
        "account takeover in progress",
        _rx(
            r"被盗|盗号|被黑|被人登(录|陆)|别人登(录|陆)|陌生设备|异地登(录|陆)|密码被(人)?(改|修改)|手机号被(人)?(改|换)",
            r"账号被(人)?(改|盗|登|用)|被人(改|修改|换)了?(我的)?(密码|手机号|绑定|邮箱)|盗刷|钱被(转|刷)走",
            r"冒充(客服|你们|北风)|(有人|对方)(让|要|叫)我(转账|提供验证码|报验证码|下载)|收到(陌生|不明)(的)?(验证码|登录)|\bscam(mer)? (call|pretending)|\bphishing|\b(someone|they) (is |are )?asking for my (code|otp|password)",
            r"\bsomeone (else )?(changed|reset|took over|is using) my\b|\b(code|otp|verification)[^.!?]{0,20}\b(didn'?t|did not|never) (request|ask)",
            r"(没|没有)(操作|申请|登录)[^。！？!?]{0,8}(收到|验证码)|收到[^。！？!?]{0,8}验证码[^。！？!?]{0,8}(没|不是我)",
            r"\bhack(ed|er)\b|\bsomeone (else )?(has )?(logged|logging|is logging|got) in|\bunauthori[sz]ed",
            r"\b(changed|reset) my (password|phone|email)\b[^.!?]{0,20}\bwithout\b|\baccount (was |has been |got )?(stolen|compromised|taken over)",
        ),
    ),
    Rule(
        "account_takeover",
        "escalate_urgent",
        "orders or payments the customer did not make",
        _rx(
            r"不是我(本人)?(下|买|操作|登录|付|支付|绑)的|我(从来)?没(有)?(下过|买过|操作过|授权过?|付过)",
            r"\b(didn'?t|did not|never) (make|place|authori[sz]e|order|buy)\b[^.!?]{0,20}\b(orders?|purchases?|payments?|charges?)",
            r"\b(orders?|purchases?|payments?|charges?)\b[^.!?]{0,12}\b(i|we) (didn'?t|did not|never) (make|place|authori[sz]e|order|buy)",
        ),
        context=_rx(
            r"账号|账户|帐号|登录|登陆|扣款|扣钱|付款|支付|订单列表|多了|陌生|异地|盗|被人",
            r"\baccount\b|\blog(ged)? ?in|\bcharged?\b|\bpayments?\b|\bcard\b|\bwallet\b",
        ),
    ),
    # --- needs_human ---------------------------------------------------------------------------------------
    Rule(
        "human_request",
        "needs_human",
        "explicit request for a human",
        _rx(
            r"转人工|人工(客服|服务|坐席)|找人工|要人工|接人工|真人|活人|人工[!！]|^人工$",
            r"搵(人工|真人|经理)|转接人工|人工服务|\boperator\b|\bhuman agent",
            r"\breal (agent|human)\b|\b(get|want|need) (me )?(a |your |the )?(manager|supervisor)\b",
            r"(找|叫|让)(你们)?(的)?(经理|主管|领导|负责人|上级)|投诉",
            r"\bhuman\b|\breal person|\blive (agent|person|chat)|\b(speak|talk|chat) (to|with) (a |an |your )?"
            r"(person|agent|someone|manager|supervisor|representative|staff)",
            r"\brepresentative\b|\bcomplain(t)?\b|\bescalate (this|my)",
        ),
        unless_before=_NO_NEED,
    ),
    Rule(
        "account_action",
        "needs_human",
        "account action only staff can do",
        _rx(
            r"(旧|原|以前的?)(手机)?号(码)?[^。！？!?]{0,6}(不用|停机|注销|丢|没了|收不到|销号|不在)",
            r"手机(号)?(丢了|被偷|停用|注销)",
            r"冻结|解冻|封号|被封|风控|限制(登录|交易|使用)|账号申诉",
            r"身份(核验|验证|审核)|人工审核|\bverify my identity|\bidentity (check|verification)",
            r"\blost (my )?(old )?(phone|number|sim)\b|\bno longer (have|use) (access to )?(my |the )?(old )?(phone|number)",
            r"\bold (phone )?number\b[^.!?]{0,20}\b(gone|disconnected|deactivated|cancel+ed|no longer)",
            r"\baccount (is |was |has been |got )?(frozen|locked|suspended|banned|restricted)|\bunfreeze|\bunlock my account",
        ),
    ),
    Rule(
        "back_office",
        "needs_human",
        "request a bot cannot carry out",
        _rx(
            r"拦截|拦下|截住|截回|追回(包裹|快递)|(别|不要)(再)?(发|寄|送)了|停止(发货|配送|派送)",
            r"合并(成|为)?(一个)?(包裹|发货|订单|快递)|合并发货|合单|一起(发|寄)|放一个包裹",
            r"\bstop (the |my )?(parcel|package|delivery|shipment)|\bintercept|\brecall (the |my )?(parcel|package)",
            r"\b(merge|combine|consolidate)\b[^.!?]{0,15}\b(orders|shipments|parcels|packages)\b",
            r"\bship (them|both|everything) together",
        ),
    ),
    Rule(
        "data_request",
        "needs_human",
        "formal personal-data or third-party data request",
        _rx(
            r"个人信息保护法|依法[^。！？!?]{0,4}(要求|申请|导出|提供|删除|查阅)|正式(申请|要求)|书面(申请|要求|答复)",
            r"要求(你们)?(在.{0,6}内)?(提供|导出|调取|删除|查阅)(我的)?(全部|所有)?(个人)?(数据|信息)",
            r"(查|看|告诉我|提供)[^。！？!?]{0,4}(别人|他人|我(老公|老婆|丈夫|妻子|朋友|家人|同事|妈|爸)|她|他)的(订单|地址|手机|电话|账号|信息|记录)",
            r"\bgdpr\b|\bpipl\b|\bdata subject|\bformal (request|complaint)|\bi (hereby )?(request|demand) (a copy|access|deletion|all)",
            r"\bunder (the )?(law|gdpr|pipl|data protection)",
            r"\b(someone else'?s|my (husband|wife|partner|friend|mother|father|son|daughter|boss)'?s) (order|account|address|phone|data|details)",
        ),
    ),
    Rule(
        "property_damage",
        "needs_human",
        "damage to the customer's property caused by a product (claim)",
        _rx(
            # 损坏了我的地板 / 烧坏了家里的插座 / 漏水泡坏了楼下 (not the parcel or the item itself)
            _ZH_DAMAGE + r"(?:了|咗)?(?:我|我们|我家|家里|屋企|邻居|楼下|别的|其他|其它)" + _ZH_NOT_PROPERTY,
            _ZH_DAMAGE + r"(?:了|咗)?" + _ZH_PROPERTY,
            # 把我的地板弄坏了 / 把墙泡坏了 (not "我不小心把手机弄坏了": the customer's own accident)
            r"(?<!我)(?<!不小心)(?<!自己)把" + _ZH_NOT_PROPERTY + r"[^。！？!?，,把]{1,10}" + _ZH_DAMAGE,
            # 地板都被泡坏了 / 墙面被烫坏了 (completed: 了)
            _ZH_PROPERTY + r"[^。！？!?会怕担能可如要]{0,6}" + _ZH_DAMAGE + r"(?:了|咗)",
            # 漏水/漏油…泡坏/淹了…
            r"(?:漏水|漏油|渗水|漏液|漏了)[^。！？!?]{0,8}(?:泡坏|泡烂|泡湿|淹了|淹坏|弄坏|损坏|毁|腐蚀|弄脏|染色)",
            r"造成(?:了)?[^。！？!?]{0,8}(?:财产)?(?:损失|损坏)|财产损失",
            # ruined my wooden floor / damaged our kitchen cabinets (not "damaged the box")
            r"\b"
            + _EN_DAMAGE
            + r" (?:my|our|the|his|her|their|a) (?:\w+ ){0,2}?"
            + _EN_NOT_PROPERTY
            + r"(?:\w+ ){0,2}?"
            + _EN_PROPERTY
            + r"\b",
            r"\b" + _EN_DAMAGE + r" (?:my|our) " + _EN_NOT_PROPERTY + r"\w+",
            # leaked and destroyed …, leaked all over and ruined …
            r"\b(?:leak(?:ed|ing)?|spill(?:ed)?|dripp(?:ed|ing)|overflow(?:ed)?)\b[^.!?]{0,40}\b(?:ruin|damag|destroy|flood|soak|warp|stain)\w*",
            # my floor is ruined / the carpet got soaked
            r"\b(?:my|our|the) (?:\w+ ){0,2}?"
            + _EN_PROPERTY
            + r" (?:is|are|was|were|got|has been|have been|is now|are now) (?:completely |totally |all )?"
            + _EN_DAMAGE,
            r"\bproperty damage\b|\bdamage(?:d)? to (?:my|our) (?:\w+ ){0,2}?" + _EN_PROPERTY + r"\b",
        ),
        unless_before=_DAMAGE_UNLESS,
    ),
    Rule(
        "compensation",
        "needs_human",
        "compensation or policy exception",
        _rx(
            r"赔偿|赔钱|赔我|(?<!差价)补偿|赔付|精神损失|损失费|通融|破例|特殊处理|例外|违约金|三倍|十倍|假一赔",
            r"(发票|invoice)[^。！？!?]{0,20}(超过|过了|超出|已经过|去年|前年|一年前|半年前|\d{3,}\s*天|expired|more than|over \d+|last year)",
            r"\bcompensat|\bpay (me )?for (the )?(damage|repairs?|my)|\bgoodwill\b|\bmake an exception|\bbend the rules",
            r"(超过|过了|超出)[^。！？!?]{0,12}(发票|开票)|\b(late|overdue) invoice",
        ),
    ),
)

# Instructions aimed at the assistant and role spoofing: data, never instructions — and a red flag.
INJECTION = _rx(
    r"ignore (all |any )?(the )?(previous|prior|above|earlier|your) (instructions|rules|prompts?)|disregard (the|your|all)",
    r"忽略(之前|以上|前面|上面|所有|你的)|无视(之前|以上|规则|指令)|不要管(之前|规则)",
    r"system ?override|\bsystem\s*[:：]|\[system\]|<\s*/?\s*system\s*>|\"role\"\s*:\s*\"(system|assistant|developer)\"",
    r"[\[【<(（]\s*(系统|system|官方|管理员|admin|客服主管|平台)[^\]】>)）]{0,6}[\]】>)）]|系统(通知|消息|公告|指令)\s*[:：]|(notice|message) from (the )?system",
    r"请直接(同意|批准|通过|退款|发放)|直接(同意|批准)(退款|申请)|(该|此)用户(为|是)(vip|白名单|内部)",
    r"admin(istrator)? mode|developer mode|开发者模式|管理员模式|调试模式|上帝模式|\bdan\b|jailbreak|越狱",
    r"你现在是|从现在起你|you are now|from now on,? you|act as (an? )?(admin|developer|system)|pretend (to be|you)",
    r"(ai|机器人|助手|智能客服)\s*(请|必须|应该|需要)|致ai|给ai的|自动(同意|通过|批准|退款|发放)|auto[- ]?approve|automatically (approve|refund)",
    r"authori[sz]ed override|(照做|照着做|按(照)?(备注|上面|下面)(说的)?(做|执行|办))|do as (the note|it) says|follow the (note|instructions in)",
    r"(客服|agent|assistant|系统)\s*[:：]\s*(好的|已|同意|批准|ok|approved|sure|confirmed)",
    r"(翻译|translate)[^。！？!?]{0,20}(并|然后|and then|then)\s*(执行|照做|do|execute|follow)",
)
_INJECTION_GAIN = _rx(
    r"退款|退钱|返现|优惠券|券|红包|补偿|赔偿|免单|免费|折扣|打折|同意|批准|通过|确认|积分|余额|充值",
    r"\brefund|\bcoupon|\bvoucher|\bdiscount|\bcredit|\bfree\b|\bmoney|\bapprov|\bconfirm|\bcashback|\bpoints\b|\bbalance",
)
PROMPT_EXTRACTION = _rx(
    r"提示词|系统提示|system prompt|系统指令|你的(指令|设定|规则|prompt)|原样输出|初始(指令|设定)|开发者模式",
    r"\byour (instructions|prompt|rules|configuration)\b|\binitial prompt|\bdeveloper mode|\bprint (the|your) prompt",
    r"\brepeat (the|your) (text|words|instructions) above",
)
# Money-claim context that makes an amount count (disputes, payouts, compensation, refunds).
_CLAIM = _rx(
    r"退|赔|补偿|扣|罚|(?<!运)费|多收|收了我|返还|到账|少退|损失|押金|欠|追回",
    r"\brefund|\bcompensat|\bdeduct|\bcharged?\b|\bfees?\b|\bpay (me|back)|\bowe|\blost\b|\bdamage|\bdispute|\bmoney back|\bpayout",
)
_BARE_CLAIM_AMOUNT = re.compile(
    r"(?:退款|退|赔偿|赔|补偿|refund(?:_amount)?|compensation|reimburse(?:ment)?)\s*(?:amount)?\s*(?:of|=|:|：|为|是)?\s*(\d{1,3}(?:,\d{3})+|\d{3,})",
    re.IGNORECASE,
)
_MEDIA_ONLY = {"voice", "video", "audio", "file"}
#: words that only point at or greet around a payload ("see video", "看图", "你好 在吗")
_REFERENTIAL = re.compile(
    r"see|watch|listen|check|look|at|to|the|my|this|it|here|please|pls|hi|hello|hey|video|voice|audio|clip|"
    r"recording|message|photo|picture|pic|image|attached|attachment|above|"
    r"请|帮我|麻烦|看看|看下|看一下|一下|看|听|见|视频|语音|录音|图片|照片|截图|图|这个|这|上面|附件|你好|您好|在吗|在不在|喂|亲",
    re.IGNORECASE,
)


def _match(rule: Rule, text: str) -> str | None:
    if rule.context is not None and not rule.context.search(text):
        return None
    for m in rule.pattern.finditer(text):
        if rule.unless_before is not None and rule.unless_before.search(
            text[max(0, m.start() - 24) : m.start()]
        ):
            continue
        return m.group(0)
    return None


def triage(conversation: Conversation, *, amount_threshold: float = DEFAULT_AMOUNT_THRESHOLD) -> TriageResult:
    """Rule signals over the customer's messages (text, captions, readable payload fields)."""
    signals: list[Signal] = []
    amounts: list[float] = []
    texts = [for_rules(message_text(m)) for m in conversation.customer_messages()]
    texts = [t for t in texts if t]
    for rule in RULES:
        for text in texts:
            hit = _match(rule, text)
            if hit is not None:
                signals.append(Signal(rule.kind, rule.route, hit, rule.description))
                break
    for text in texts:
        for value, start, end in find_amounts(text):
            amounts.append(value)
            window = text[max(0, start - 10) : start] + " " + text[end : end + 5]
            if value > amount_threshold and _CLAIM.search(window):
                signals.append(_amount_signal(value, text[start:end], amount_threshold))
        for m in _BARE_CLAIM_AMOUNT.finditer(text):
            value = float(m.group(1).replace(",", ""))
            amounts.append(value)
            if value > amount_threshold:
                signals.append(_amount_signal(value, m.group(0), amount_threshold))
    signals.extend(_injection_signals(texts))
    signals.extend(_unreadable_signal(conversation))
    return _result(signals, amounts)


def _amount_signal(value: float, evidence: str, threshold: float) -> Signal:
    return Signal(
        "amount_over_threshold",
        "needs_human",
        evidence,
        f"money claim of ¥{value:,.0f} above ¥{threshold:,.0f}",
    )


def _injection_signals(texts: Iterable[str]) -> list[Signal]:
    out: list[Signal] = []
    joined = "\n".join(texts)
    inj = INJECTION.search(joined)
    if inj is not None:
        gain = _INJECTION_GAIN.search(joined)
        if gain is not None:
            out.append(
                Signal(
                    "injection_gain",
                    "needs_human",
                    inj.group(0),
                    "instructions aimed at the assistant to obtain money, coupons or an approval",
                )
            )
        else:
            out.append(
                Signal("injection", "ai_ok", inj.group(0), "instructions aimed at the assistant (ignored)")
            )
    ext = PROMPT_EXTRACTION.search(joined)
    if ext is not None:
        out.append(
            Signal(
                "prompt_extraction", "ai_ok", ext.group(0), "asks for the assistant's instructions (decline)"
            )
        )
    return out


def _unreadable_signal(conversation: Conversation) -> list[Signal]:
    """Voice, video or an image the AI cannot see, with no question in text beside it."""
    msgs = conversation.customer_messages()
    media = [
        m
        for m in msgs
        if (m.kind == "unknown" and m.type_name.lower() in _MEDIA_ONLY)
        or (m.kind == "image" and not m.caption)
    ]
    if not media:
        return []
    texts = [clean(m.text) for m in msgs if m.kind == "text"]
    if all(len(re.sub(r"[\W_]+", "", _REFERENTIAL.sub("", t))) <= 2 for t in texts):
        kinds = ", ".join(sorted({m.type_name.lower() for m in media}))
        return [Signal("unreadable", "needs_human", kinds, f"only {kinds} content, which the AI cannot read")]
    return []


def _result(signals: list[Signal], amounts: list[float]) -> TriageResult:
    route = worst(*(s.route for s in signals)) if signals else "ai_ok"
    top = [s for s in signals if s.route == route]
    if top:
        reason = "; ".join(f"{s.description} ({s.evidence.strip()[:40]!r})" for s in top[:3])
    else:
        reason = "no triage signal"
    return TriageResult(route=route, reason=reason, signals=tuple(signals), amounts=tuple(amounts))


def combine(rules: TriageResult, model_route: Route, model_reason: str) -> tuple[Route, str]:
    """The model's judgement may raise the route, never lower what the rules decided."""
    route = worst(rules.route, model_route)
    if route == rules.route:
        if rules.route == "ai_ok":
            return route, model_reason or rules.reason
        return route, rules.reason
    return route, f"model: {model_reason}" if model_reason else "model judgement"
