"""Built-in generated Chinese prose: the Chinese counterpart of `prose`, deterministic and offline.

Plain narrative sentences about a small town: its people, trades, weather and roads, written from
sentence frames and word lists of our own. Every sentence starts with a Chinese character and ends
with "。", and none holds a digit or a Latin letter, so a number or UUID answer never occurs in the
haystack by accident, and nearly every character is CJK (`language.cjk_share`).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

from .prose import frame_stream

_PEOPLE = [
    "面包师",
    "摆渡人",
    "年轻的书记员",
    "老木匠",
    "隔壁的邻居",
    "教书先生",
    "走街串巷的画匠",
    "港口的管事",
    "园丁",
    "安静的学生",
    "织布的大婶",
    "镇上的郎中",
    "学徒石匠",
    "客栈掌柜",
    "放羊的少年",
    "图书馆的管理员",
    "磨坊主的女儿",
    "退休的老水手",
    "铁匠",
    "送信的邮差",
]
_PLACES = [
    "集市广场",
    "河岸边",
    "往北的大路",
    "山坡上的草地",
    "小港口",
    "镇上的书院",
    "木工作坊",
    "果园",
    "祠堂前的院子",
    "火车站台",
    "石拱桥",
    "客栈后面的小巷",
    "镇子后面的山头",
    "阅览室",
    "有顶棚的菜市",
    "废弃的采石场",
    "磨坊旁的水塘",
    "海边的小路",
]
_THINGS = [
    "一篮梨",
    "早上的信件",
    "借来的梯子",
    "一张山谷地图",
    "一罐蜂蜜",
    "坏掉的挂钟",
    "一捆柴火",
    "没画完的画",
    "一双旧靴子",
    "账本",
    "一条黑麦面包",
    "一卷麻绳",
    "一盏油灯",
    "一盒种子",
    "备用的钥匙",
    "一条羊毛毯",
    "一只小木船",
    "一本诗集",
]
_WEATHER = [
    "风渐渐变冷了",
    "天上下起了小雨",
    "河面上的雾慢慢散开",
    "太阳从屋顶后面露了出来",
    "西边的云越积越厚",
    "空气里有青草的味道",
    "田野上结了一层白霜",
    "傍晚变得又暖和又安静",
    "远处传来闷闷的雷声",
    "雪花落满了篱笆",
]
_TIMES = [
    "一大清早",
    "那天下午",
    "到了周末",
    "天快黑的时候",
    "开春的头一天",
    "快到年底时",
    "吃过早饭不久",
    "当天晚上",
    "隆冬时节",
    "夏天快结束的时候",
    "钟声响过以后",
]
_VERBS = [
    "搬去了",
    "修好后送到了",
    "找到后带到了",
    "卖给了住在",
    "悄悄藏在了",
    "仔细包好送到了",
    "原样还回了",
    "一路扛到了",
    "小心捧到了",
    "换了些钱后留在了",
]
_FEELINGS = ["高兴", "疲倦", "好奇", "不安", "满怀希望", "坐立不安", "自豪", "心满意足", "困惑", "感激"]
_IDEAS = [
    "耐心比速度更要紧",
    "好工具值得花钱",
    "计划一动手就会变",
    "一个镇子的兴旺全靠它的道路",
    "老习惯最难改掉",
    "小修小补能省下大钱",
    "每一门手艺都有清闲的季节",
    "人们记得善意比记得道理更久",
    "天气决定的事情比我们承认的多",
    "仔细记账可以免去许多争吵",
    "学好一门手艺要花上好些年",
]

_FRAMES = [
    "{time}，{person}把{thing}{verb}{place}。",
    "{weather}，{person}沿着{place}慢慢地走着。",
    "镇上没有人说得清{person}为什么要把{thing}{verb}{place}。",
    "{person}在{place}停下脚步，和人聊起了今年的收成。",
    "{person}常常说，{idea}。",
    "{time}，{weather}，{person}早早地回了家。",
    "人们常说{idea}，{person}似乎也这么认为。",
    "在{place}忙了一整天之后，{person}觉得很{feeling}。",
    "去{place}的路上人很多，{person}只好绕远路走。",
    "{person}把{thing}放在靠窗的架子上。",
    "每当{weather}，{person}就关上窗板，生起炉子。",
    "来{place}的人很少注意到门边放着{thing}。",
    "{person}和{person2}为了{thing}争了整整一个钟头。",
    "{time}，{place}那边的人都在谈论{person}。",
    "有人相信{idea}，不过{person}从来没有把握。",
    "{person2}带着{thing}来的时候，{person}显得很{feeling}。",
    "{weather}之后，没有什么地方比{place}更安静了。",
    "{person}已经把{thing}{verb}{place}两回，才有人发觉。",
    "{time}，{person2}向{person}借了{thing}。",
    "{place}没有多少事可做，{person}倒也并不在意。",
]


def _fill(frame: str, rng: random.Random) -> str:
    person = rng.choice(_PEOPLE)
    person2 = rng.choice([p for p in _PEOPLE if p != person])
    return frame.format(
        time=rng.choice(_TIMES),
        person=person,
        person2=person2,
        place=rng.choice(_PLACES),
        thing=rng.choice(_THINGS),
        verb=rng.choice(_VERBS),
        weather=rng.choice(_WEATHER),
        feeling=rng.choice(_FEELINGS),
        idea=rng.choice(_IDEAS),
    )


def prose_stream_zh(seed: int = 0) -> Iterator[str]:
    """Generated Chinese prose, one sentence after another without end (see `prose.frame_stream`)."""
    return frame_stream(_FRAMES, _fill, seed)


def prose_sentences_zh(count: int, seed: int = 0) -> list[str]:
    """`count` sentences of generated Chinese prose; the same (count, seed) always gives the same text."""
    return list(itertools.islice(prose_stream_zh(seed), count))
