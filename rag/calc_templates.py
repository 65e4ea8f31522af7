"""The formulas a TESAT student must compute, one small function each (used by `finterm.rag.calc`).

A template draws its inputs so that the answer comes out clean (the answer is usually drawn first and
the inputs derived from it), and returns a `Calc`: the prompt, the keyed value, the values that the
usual mistakes give (wrong denominator, sign, percent vs point, the neighbouring formula), the
worked solution, and the inputs by name, so tests can recompute the answer on their own. Each is
registered with the glossary term whose definition holds its formula (`cite`). This file holds the
registry and the templates for employment, prices and GDP, elasticities and costs; `calc_money` the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Calc:
    prompt: str
    key: float
    mistakes: tuple[float, ...]
    solution: str
    unit: str = ""
    decimals: int = 1
    inputs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Template:
    name: str
    cite: str  # the glossary term (bundled glossary) whose definition states the formula
    make: Callable


TEMPLATES: dict[str, Template] = {}


def template(name: str, cite: str):
    def register(fn):
        TEMPLATES[name] = Template(name, cite, fn)
        return fn
    return register


def n(x: float, d: int = 2) -> str:
    """A number as printed in prompts and solutions: thousands separators, no trailing zeros."""
    s = f"{round(x, d):,.{d}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


# -- 고용 ------------------------------------------------------------------------------------------
@template("실업률", "실업률")
def unemployment(r):
    lf = 200 * r.randint(6, 15)
    u = r.choice([2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 7.5, 8])
    un = lf * u / 100
    pop = lf + 100 * r.randint(4, 12)
    return Calc(f"15세 이상 인구 {n(pop)}만 명, 경제활동인구 {n(lf)}만 명, 실업자 {n(un)}만 명인 나라의 실업률은?",
                u, (un / pop * 100, un / (lf - un) * 100, 100 - u, lf / pop * 100),
                f"실업률 = 실업자 ÷ 경제활동인구 × 100 = {n(un)} ÷ {n(lf)} × 100 = {n(u)}%", "%",
                inputs={"pop": pop, "lf": lf, "un": un})


@template("고용률", "고용률")
def employment(r):
    pop = 400 * r.randint(5, 12)
    e = r.choice([55, 57.5, 60, 62.5, 65, 67.5])
    emp = pop * e / 100
    un = 10 * r.randint(5, 15)
    return Calc(f"15세 이상 인구 {n(pop)}만 명 가운데 취업자 {n(emp)}만 명, 실업자 {n(un)}만 명이다. 고용률은?",
                e, (emp / (emp + un) * 100, (emp + un) / pop * 100, un / pop * 100, 100 - e),
                f"고용률 = 취업자 ÷ 15세 이상 인구 × 100 = {n(emp)} ÷ {n(pop)} × 100 = {n(e)}%", "%",
                inputs={"pop": pop, "emp": emp, "un": un})


@template("경제활동참가율", "경제활동참가율")
def participation(r):
    pop = 400 * r.randint(5, 12)
    p = r.choice([57.5, 60, 62.5, 65, 67.5, 70])
    lf = pop * p / 100
    un = 10 * r.randint(4, 12)
    emp = lf - un
    return Calc(f"15세 이상 인구 {n(pop)}만 명, 취업자 {n(emp)}만 명, 실업자 {n(un)}만 명이다. 경제활동참가율은?",
                p, (emp / pop * 100, 100 - p, un / lf * 100, emp / lf * 100),
                f"경제활동인구 = 취업자 + 실업자 = {n(lf)}만 명, 경제활동참가율 = {n(lf)} ÷ {n(pop)} × 100 = {n(p)}%",
                "%", inputs={"pop": pop, "emp": emp, "un": un})


# -- 물가·GDP --------------------------------------------------------------------------------------
@template("물가상승률", "소비자물가지수")
def inflation(r):
    a = r.choice([100, 104, 105, 110, 120, 125, 150, 200])
    g = r.choice([2, 3, 4, 5, 6, 8, 10])
    b = a * (100 + g) / 100
    return Calc(f"소비자물가지수가 지난해 {n(a)}에서 올해 {n(b)}(으)로 변했다. 올해 물가상승률은?",
                g, (b - a, (b - a) / b * 100, b / a * 100, -g),
                f"물가상승률 = (올해 지수 − 지난해 지수) ÷ 지난해 지수 × 100 = ({n(b)} − {n(a)}) ÷ {n(a)} × 100 = "
                f"{n(g)}% (지수의 차 {n(b - a)}는 %p가 아니라 지수 포인트)", "%", inputs={"a": a, "b": b})


@template("GDP 디플레이터", "GDP디플레이터")
def deflator(r):
    real = 100 * r.randint(8, 25)
    d = r.choice([96, 98, 102, 104, 105, 108, 110, 120, 125])
    nom = real * d / 100
    return Calc(f"어느 해 명목GDP가 {n(nom)}조 원, 실질GDP가 {n(real)}조 원이다. GDP 디플레이터는?",
                d, (real / nom * 100, (nom - real) / real * 100, nom - real, (nom - real) / nom * 100),
                f"GDP디플레이터 = 명목GDP ÷ 실질GDP × 100 = {n(nom)} ÷ {n(real)} × 100 = {n(d)}", "",
                inputs={"nom": nom, "real": real})


@template("실질GDP", "GDP디플레이터")  # its definition holds 명목 ÷ 실질 × 100
def real_gdp(r):
    real = 100 * r.randint(8, 25)
    d = r.choice([96, 102, 104, 105, 108, 110, 120, 125])
    nom = real * d / 100
    return Calc(f"명목GDP가 {n(nom)}조 원이고 GDP디플레이터가 {n(d)}이다. 실질GDP는 몇 조 원인가?",
                real, (nom * d / 100, nom - (d - 100), nom, nom * (200 - d) / 100),
                f"실질GDP = 명목GDP ÷ GDP디플레이터 × 100 = {n(nom)} ÷ {n(d)} × 100 = {n(real)}조 원", "조 원",
                inputs={"nom": nom, "d": d})


@template("실질 GDP 성장률", "경제성장률")
def growth(r):
    y0 = 200 * r.randint(8, 12)
    g = r.choice([-1.5, -1, 1, 1.5, 2, 2.5, 3, 3.5, 4, 5])
    y1 = y0 * (100 + g) / 100
    p = r.choice([2, 3, 4, 5])
    n1 = y1 * (100 + p) / 100
    return Calc(f"실질GDP가 지난해 {n(y0)}조 원에서 올해 {n(y1)}조 원이 되었고, 명목GDP는 {n(y0)}조 원에서 "
                f"{n(n1)}조 원이 되었다. 올해 경제성장률은?",
                g, ((y1 - y0) / y1 * 100, (n1 - y0) / y0 * 100, y1 - y0, -g),
                f"경제성장률은 실질GDP 증가율: ({n(y1)} − {n(y0)}) ÷ {n(y0)} × 100 = {n(g)}% (명목GDP 증가율에는 "
                "물가 상승이 섞여 있다)", "%", inputs={"y0": y0, "y1": y1, "n1": n1})


@template("실질금리(피셔 방정식)", "피셔 방정식")
def fisher(r):
    i = r.choice([2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7])
    pi = r.choice([1, 1.5, 2, 2.5, 3, 4, 5, 6])
    return Calc(f"정기예금 금리가 연 {n(i)}%이고 기대인플레이션율이 연 {n(pi)}%이다. 피셔 방정식(근사식)에 따른 "
                "실질금리는?", i - pi, (i + pi, pi - i, i, i * pi / 100),
                f"실질금리 ≈ 명목금리 − 기대인플레이션율 = {n(i)} − {n(pi)} = {n(i - pi)}%", "%",
                inputs={"i": i, "pi": pi})


@template("실질임금", "실질임금")
def real_wage(r):
    real = 10 * r.randint(20, 40)
    c = r.choice([104, 105, 108, 110, 120, 125])
    w = real * c / 100
    return Calc(f"올해 명목임금이 월 {n(w)}만 원이고 소비자물가지수(기준연도 = 100)가 {n(c)}이다. "
                "기준연도 가격으로 본 실질임금은 월 몇만 원인가?",
                real, (w * c / 100, w - (c - 100), w, w * (200 - c) / 100),
                f"실질임금 = 명목임금 ÷ 소비자물가지수 × 100 = {n(w)} ÷ {n(c)} × 100 = {n(real)}만 원", "만 원",
                inputs={"w": w, "c": c})


@template("화폐수량설", "화폐수량설")
def quantity_theory(r):
    m = r.choice([4, 5, 6, 7, 8, 10])
    y = r.choice([1, 2, 3])
    return Calc(f"화폐유통속도가 일정할 때 통화량이 {n(m)}% 늘고 실질GDP가 {n(y)}% 늘었다. 교환방정식(MV = PY)으로 "
                "어림한 물가상승률은?", m - y, (m + y, m, y - m, m * y),
                f"MV = PY에서 증가율: 통화량 + 유통속도 = 물가 + 실질GDP → 물가상승률 ≈ {n(m)} + 0 − {n(y)} = "
                f"{n(m - y)}%", "%", inputs={"m": m, "y": y})


# -- 탄력성 ------------------------------------------------------------------------------------------
def _elasticity(r, what: str, sign: int):
    e = r.choice([0.4, 0.5, 0.8, 1.2, 1.5, 2, 2.5])
    dp = r.choice([5, 10, 20, -10, -20])
    dq = sign * e * dp
    p0 = 100 * r.randint(5, 30)
    q0 = 400 * r.randint(1, 5)
    p1, q1 = p0 * (100 + dp) / 100, q0 * (100 + dq) / 100
    prompt = (f"가격이 {n(p0)}원에서 {n(p1)}원으로 바뀌자 {what}이 {n(q0)}개에서 {n(q1)}개로 변했다. "
              f"{what.removesuffix('량')}의 가격탄력성(절댓값)은?")
    solution = (f"탄력성 = |{what} 변화율 ÷ 가격 변화율| = |{n(dq)}% ÷ {n(dp)}%| = {n(e)} "
                f"(변화율로 나누어야 하며 변화량끼리 나누면 단위에 따라 값이 달라진다)")
    mistakes = (1 / e, abs((q1 - q0) / (p1 - p0)), abs(dq) + abs(dp), abs(dq) / 100)
    return Calc(prompt, e, mistakes, solution, "", 2, inputs={"p0": p0, "p1": p1, "q0": q0, "q1": q1})


@template("수요의 가격탄력성", "수요의 가격탄력성")
def demand_elasticity(r):
    return _elasticity(r, "수요량", -1)


@template("공급의 가격탄력성", "공급탄력성")
def supply_elasticity(r):
    return _elasticity(r, "공급량", 1)


@template("소득탄력성", "소득탄력성")
def income_elasticity(r):
    dy = r.choice([4, 5, 8, 10, 20])
    e = r.choice([-0.5, 0.25, 0.5, 1.5, 2])
    dq = e * dy
    return Calc(f"소득이 {n(dy)}% 늘자 어떤 재화의 수요량이 {n(dq)}% 변했다. 이 재화의 소득탄력성은?",
                e, (dy / dq, -e, dq - dy, dq), f"소득탄력성 = 수요량 변화율 ÷ 소득 변화율 = {n(dq)} ÷ {n(dy)} = {n(e)}"
                + (" (음수: 열등재)" if e < 0 else " (양수: 정상재)"), "", 2, inputs={"dy": dy, "dq": dq})


@template("교차탄력성", "교차탄력성")
def cross_elasticity(r):
    dp = r.choice([5, 10, 20, 25])
    e = r.choice([-1.2, -0.8, -0.4, 0.4, 0.6, 1.5])
    dq = e * dp
    return Calc(f"B재 가격이 {n(dp)}% 오르자 A재 수요량이 {n(dq)}% 변했다. A재 수요의 B재 가격에 대한 교차탄력성은?",
                e, (dp / dq, -e, dq, dq + dp),
                f"교차탄력성 = A재 수요량 변화율 ÷ B재 가격 변화율 = {n(dq)} ÷ {n(dp)} = {n(e)}"
                + (" (음수: 보완재)" if e < 0 else " (양수: 대체재)"), "", 2, inputs={"dp": dp, "dq": dq})


# -- 비용·선택 ---------------------------------------------------------------------------------------
@template("기회비용", "기회비용")
def opportunity_cost(r):
    c = r.choice([1, 1.5, 2, 3])
    a, b = r.sample([6, 7, 8, 9, 10, 12], 2)
    return Calc(f"민수는 토요일에 공연을 보기로 했다(관람료 {n(c)}만 원). 그 시간에 할 수 있던 다른 일은 "
                f"편의점 아르바이트(일당 {n(a)}만 원)와 과외(일당 {n(b)}만 원)뿐이다. 공연 관람의 기회비용은?",
                c + max(a, b), (max(a, b), c + a + b, c + min(a, b), c),
                f"기회비용 = 명시적 비용 + 포기한 대안 중 가장 큰 가치 = {n(c)} + {n(max(a, b))} = "
                f"{n(c + max(a, b))}만 원 (포기한 대안을 모두 더하지 않는다)", "만 원", inputs={"c": c, "a": a, "b": b})


@template("한계비용", "한계비용")
def marginal_cost(r):
    q0 = 10 * r.randint(2, 9)
    dq = r.choice([1, 2, 5, 10])
    mc = r.choice([3, 4, 5, 6, 8, 12])
    tc0 = 10 * r.randint(30, 90)
    tc1 = tc0 + mc * dq
    return Calc(f"생산량이 {n(q0)}개일 때 총비용은 {n(tc0)}만 원, {n(q0 + dq)}개일 때 {n(tc1)}만 원이다. "
                "이 구간의 한계비용(1개당)은?", mc,
                (tc1 / (q0 + dq), tc1 - tc0 if dq > 1 else mc + 1, tc0 / q0, tc1 / dq),
                f"한계비용 = 총비용 증가분 ÷ 생산량 증가분 = ({n(tc1)} − {n(tc0)}) ÷ {n(dq)} = {n(mc)}만 원", "만 원",
                inputs={"q0": q0, "dq": dq, "tc0": tc0, "tc1": tc1})


@template("평균비용", "평균비용")
def average_cost(r):
    q = r.choice([10, 20, 25, 40, 50])
    fc = q * r.randint(2, 10)
    avc = r.randint(3, 12)
    vc = avc * q
    return Calc(f"고정비용이 {n(fc)}만 원, 생산량 {n(q)}개의 가변비용이 {n(vc)}만 원이다. 평균비용(1개당)은?",
                (fc + vc) / q, (vc / q, fc / q, fc + vc, (fc + vc) / (q + 1)),
                f"평균비용 = 총비용 ÷ 생산량 = ({n(fc)} + {n(vc)}) ÷ {n(q)} = {n((fc + vc) / q)}만 원", "만 원",
                inputs={"fc": fc, "vc": vc, "q": q})


@template("손익분기점", "손익분기점")
def break_even(r):
    margin = r.choice([2, 4, 5, 8, 10])
    v = r.choice([5, 10, 15, 20])
    units = 100 * r.randint(2, 12)
    fc = units * margin
    return Calc(f"고정비가 {n(fc)}만 원, 제품 한 개의 판매가격이 {n(v + margin)}만 원, 단위당 변동비가 "
                f"{n(v)}만 원이다. 손익분기점 판매량은?", units,
                (fc / (v + margin), fc / v, units * (v + margin), units / 2),
                f"손익분기점 = 고정비 ÷ (가격 − 변동비) = {n(fc)} ÷ ({n(v + margin)} − {n(v)}) = {n(units)}개", "개",
                inputs={"fc": fc, "p": v + margin, "v": v})
