"""Chinese words for needles: our own lists, written for this purpose.

- `ADJECTIVES` x `NOUNS`: the needle family's Chinese keys and word values ("古老灯塔"; 100 x 160 =
  16,000), and NeedleBench's box labels (`NOUNS`). None is a word of the built-in Chinese prose, so a
  key or a word value never occurs in that haystack by accident (the validators check anyway).
- `PLACE_SYLLABLES`: characters that fictional two-character place names are made of ("青石" for
  青石镇, 青石湖...), so no model knows a fact about them beforehand.
- `people`: Chinese names from Faker's zh_CN surnames and given-name characters, no name inside
  another (a reply naming 王伟明 does not also name 王伟).
"""

from __future__ import annotations

import functools
import random

ADJECTIVES = (
    "勇敢 安详 明亮 古老 遥远 温暖 寒冷 金色 银色 青翠 碧蓝 雪白 火红 沉默 轻快 缓慢 迅捷 坚硬 柔软 辽阔 "
    "狭窄 深邃 苍劲 稚嫩 稀有 寻常 奇异 神秘 朴素 华丽 干燥 湿润 清澈 浑浊 芬芳 苦涩 甜美 酸甜 明媚 阴沉 "
    "晴朗 孤单 喧闹 整齐 凌乱 圆润 尖锐 粗糙 光滑 沉重 轻盈 空旷 拥挤 隐秘 疲惫 机敏 温柔 凶猛 骄傲 谦逊 "
    "忠诚 狡黠 聪慧 笨拙 欢快 忧郁 平和 急躁 坚定 迷茫 朦胧 灿烂 黯淡 晶莹 斑驳 紫红 橙黄 翠绿 乌黑 淡黄 "
    "雄伟 秀丽 险峻 幽静 繁华 荒凉 肥沃 贫瘠 茂密 稀疏 锋利 迟钝 敏捷 顽强 脆弱 慷慨 吝啬 勤劳 懒散 严肃"
).split()
NOUNS = (
    "湖泊 山冈 河流 森林 草原 沙漠 海湾 岛屿 峡谷 瀑布 冰川 火山 平原 丘陵 沼泽 溪流 泉眼 港湾 灯塔 城堡 "
    "宫殿 寺庙 桥梁 钟楼 风车 花园 庭院 回廊 阁楼 地窖 书斋 灶台 粮仓 码头 驿站 牌坊 街巷 村庄 渡口 学堂 "
    "茶馆 酒坊 铜镜 木箱 瓷瓶 铁锤 竹篮 风筝 灯笼 团扇 雨伞 斗笠 马车 帆船 木筏 羽毛 贝壳 珍珠 琥珀 玉石 "
    "水晶 铜钱 锁链 罗盘 信封 邮票 画卷 棋盘 琴弦 竹笛 鼓槌 铃铛 蜡烛 火炉 烟囱 窗帘 陶罐 酒杯 饭碗 竹筷 "
    "松树 柳枝 桃花 梅花 兰草 竹林 荷叶 稻田 麦穗 葡萄 石榴 橘子 苹果 樱桃 狐狸 白鹤 喜鹊 燕子 海鸥 骏马 "
    "黄牛 山羊 白兔 松鼠 蝴蝶 蜻蜓 萤火 锦鲤 乌龟 月亮 星辰 彩虹 云朵 晨雾 霜花 雪松 雨燕 微风 石碑 古井 "
    "海豚 鲸鱼 企鹅 孔雀 仙鹤 猎鹰 麋鹿 骆驼 熊猫 刺猬 蜗牛 蚂蚁 蜜蜂 青蛙 螃蟹 海星 珊瑚 水母 柏树 银杏 "
    "枫叶 芦苇 蒲公英 向日葵 牡丹 菊花 茉莉 水仙 仙人掌 蘑菇 竹笋 莲藕 花生 核桃 栗子 柿子 石磨 犁头 纺车 陀螺"
).split()

PLACE_SYLLABLES = (
    "青白云松石月金银清碧翠丹霞枫柳桃梅兰竹荷雁鹤龙凤虎鹿星辰晨夕远长安宁平和泰康福明光春秋冬夏风雨雪霜溪泉峰岭川湾岩沙"
)


@functools.lru_cache(maxsize=1)
def _name_parts() -> tuple[list[str], list[str]]:
    """(surnames, given-name characters) from Faker's zh_CN lists, ideographs only, de-duplicated in order."""
    from faker.providers.person.zh_CN import Provider

    def ideographs(words) -> list[str]:
        return list(dict.fromkeys(w for w in words if w and all("\u4e00" <= c <= "\u9fff" for c in w)))

    return ideographs(Provider.last_names), ideographs(Provider.first_names)


def people(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """`count` distinct Chinese names (a surname and a one- or two-character given name), none in
    `taken` and none inside or around a name taken (which grows)."""
    surnames, given = _name_parts()
    single = [g for g in given if len(g) == 1]
    out: list[str] = []
    for _ in range(count * 200 + 1000):  # bounded: tens of thousands of names exist
        if len(out) == count:
            return out
        first = rng.choice(given)
        second = rng.choice(single) if len(first) == 1 and rng.random() < 0.5 else ""
        name = rng.choice(surnames) + first + second
        if not any(name in t or t in name for t in taken):
            taken.add(name)
            out.append(name)
    raise ValueError(f"could not draw {count} distinct Chinese names")


def place_names(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """`count` distinct two-character place names, none inside or around a name taken."""
    out: list[str] = []
    for _ in range(count * 200 + 1000):
        if len(out) == count:
            return out
        name = rng.choice(PLACE_SYLLABLES) + rng.choice(PLACE_SYLLABLES)
        if name[0] != name[1] and not any(name in t or t in name for t in taken):
            taken.add(name)
            out.append(name)
    raise ValueError(f"could not draw {count} distinct Chinese place names")
