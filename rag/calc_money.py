"""Calculation templates, part two: multipliers and money, exchange rates and trade, interest, firms and
shares, distribution. Registered into `calc_templates.TEMPLATES` on import (`finterm.rag.calc` imports it).
"""

from __future__ import annotations

from finterm.rag.calc_templates import Calc, n, template


# -- 승수·통화 ---------------------------------------------------------------------------------------
@template("정부지출승수", "정부지출승수")
def spending_multiplier(r):
    mpc = r.choice([0.5, 0.6, 0.75, 0.8, 0.9])
    dg = r.choice([10, 20, 30, 40])
    return Calc(f"한계소비성향이 {n(mpc)}인 단순 케인스 모형에서 정부지출을 {n(dg)}조 원 늘리면 국민소득은 "
                "몇 조 원 늘어나는가?", dg / (1 - mpc), (dg * mpc / (1 - mpc), dg / mpc, dg * mpc, dg * (1 - mpc)),
                f"정부지출승수 = 1 ÷ (1 − {n(mpc)}) = {n(1 / (1 - mpc))}, 소득 증가 = {n(dg)} × {n(1 / (1 - mpc))} = "
                f"{n(dg / (1 - mpc))}조 원", "조 원", inputs={"mpc": mpc, "dg": dg})


@template("조세승수", "조세승수")
def tax_multiplier(r):
    mpc = r.choice([0.5, 0.6, 0.75, 0.8, 0.9])
    dt = r.choice([10, 20, 30, 40])
    key = dt * mpc / (1 - mpc)
    return Calc(f"한계소비성향이 {n(mpc)}인 단순 케인스 모형에서 정부가 세금을 {n(dt)}조 원 줄이면 국민소득은 "
                "몇 조 원 늘어나는가?", key, (dt / (1 - mpc), dt * mpc, -key, dt),
                f"조세승수 = −MPC ÷ (1 − MPC) = −{n(mpc)} ÷ {n(1 - mpc)}; 감세 {n(dt)}조 원 → 소득 증가 "
                f"{n(dt)} × {n(mpc / (1 - mpc))} = {n(key)}조 원 (정부지출승수보다 1 작다)", "조 원",
                inputs={"mpc": mpc, "dt": dt})


@template("한계소비성향", "한계소비성향")
def mpc(r):
    y0 = 100 * r.randint(20, 40)
    dy = r.choice([100, 200, 400, 500])
    c = r.choice([0.5, 0.6, 0.75, 0.8, 0.9])
    c0 = 10 * round(y0 * r.choice([0.7, 0.8]) / 10)
    c1 = c0 + dy * c
    return Calc(f"가계의 소득이 {n(y0)}만 원에서 {n(y0 + dy)}만 원으로 늘자 소비가 {n(c0)}만 원에서 "
                f"{n(c1)}만 원으로 늘었다. 한계소비성향은?", c, (c1 / (y0 + dy), 1 - c, dy / (c1 - c0), c0 / y0),
                f"한계소비성향 = 소비 증가분 ÷ 소득 증가분 = {n(c1 - c0)} ÷ {n(dy)} = {n(c)}", "", 2,
                inputs={"y0": y0, "y1": y0 + dy, "c0": c0, "c1": c1})


@template("통화승수", "통화승수")
def money_multiplier(r):
    b = 10 * r.randint(20, 40)
    m = r.choice([8, 10, 12.5, 15, 16, 20])
    money = b * m
    return Calc(f"본원통화가 {n(b)}조 원이고 통화량(M2)이 {n(money)}조 원이다. 통화승수는?",
                m, (b / money, (money - b) / b, money - b, 1 / m * 100),
                f"통화승수 = 통화량 ÷ 본원통화 = {n(money)} ÷ {n(b)} = {n(m)}", "", 2, inputs={"b": b, "money": money})


# -- 환율·무역 ---------------------------------------------------------------------------------------
@template("환율 변화와 원화 가치", "환율")
def won_value(r):
    e0 = 40 * r.randint(25, 37)
    ratio = r.choice([1.25, 0.8, 1.6, 0.625])
    e1 = e0 * ratio
    key = (1 / ratio - 1) * 100
    return Calc(f"원·달러 환율이 달러당 {n(e0)}원에서 {n(e1)}원이 되었다. 달러로 잰 원화 가치의 변화율은?",
                key, ((ratio - 1) * 100, -(ratio - 1) * 100, (1 - 1 / ratio) * 100, e1 - e0),
                f"원화 1원의 달러 가치 = 1 ÷ 환율: ({n(e0)} ÷ {n(e1)} − 1) × 100 = {n(key)}% "
                f"(환율 변화율 {n((ratio - 1) * 100)}%와 부호도 크기도 다르다)", "%",
                inputs={"e0": e0, "e1": e1})


@template("교역조건", "교역조건")
def terms_of_trade(r):
    mp = r.choice([80, 100, 120, 125, 150, 160])
    t = r.choice([75, 80, 90, 110, 120, 125])
    xp = mp * t / 100
    return Calc(f"수출가격지수가 {n(xp)}, 수입가격지수가 {n(mp)}이다. 순상품교역조건지수는?",
                t, (mp / xp * 100, xp - mp, (xp - mp) / mp * 100, xp),
                f"순상품교역조건지수 = 수출가격지수 ÷ 수입가격지수 × 100 = {n(xp)} ÷ {n(mp)} × 100 = {n(t)}", "",
                inputs={"xp": xp, "mp": mp})


@template("구매력평가환율", "빅맥지수")
def ppp(r):
    usd = r.choice([4, 5, 5.5, 6, 8])
    rate = 50 * r.randint(16, 30)
    krw = usd * rate
    return Calc(f"같은 빅맥 햄버거가 한국에서 {n(krw)}원, 미국에서 {n(usd)}달러이다. 이 햄버거로 본 구매력평가 환율"
                "(원/달러)은?", rate, (krw - usd, krw * usd, krw / usd / 10, usd / krw * 10000),
                f"구매력평가 환율 = 한국 가격 ÷ 미국 가격 = {n(krw)} ÷ {n(usd)} = {n(rate)}원", "원",
                inputs={"krw": krw, "usd": usd})


# -- 이자 -------------------------------------------------------------------------------------------
@template("72의 법칙", "72의 법칙")
def rule_of_72(r):
    rate = r.choice([2, 3, 4, 6, 8, 9, 12])
    return Calc(f"연 {n(rate)}% 복리로 운용하는 돈이 두 배가 되는 데 걸리는 기간을 72의 법칙으로 어림하면?",
                72 / rate, (100 / rate, rate * 72 / 100, 72 / rate / 2, 72 * rate / 10),
                f"72 ÷ 연 수익률 = 72 ÷ {n(rate)} = {n(72 / rate)}년", "년", inputs={"rate": rate})


@template("단리", "단리")
def simple_interest(r):
    p = 100 * r.randint(1, 10)
    rate = r.choice([2, 3, 4, 5, 10])
    years = r.choice([2, 3, 5])
    key = p * (1 + rate / 100 * years)
    return Calc(f"{n(p)}만 원을 연 {n(rate)}% 단리로 {n(years)}년 맡기면 만기에 받는 원리금은?",
                key, (p * (1 + rate / 100) ** years, p * rate / 100 * years, p * (1 + rate / 100), p + rate * years),
                f"원리금 = 원금 × (1 + 이자율 × 기간) = {n(p)} × (1 + {n(rate / 100)} × {n(years)}) = {n(key)}만 원",
                "만 원", 2, inputs={"p": p, "rate": rate, "years": years})


@template("복리", "복리")
def compound_interest(r):
    p = 100 * r.randint(1, 10)
    rate = r.choice([5, 10, 20])
    years = r.choice([2, 3])
    key = p * (1 + rate / 100) ** years
    return Calc(f"{n(p)}만 원을 연 {n(rate)}% 연복리로 {n(years)}년 운용하면 원리금은?",
                key, (p * (1 + rate / 100 * years), key - p, p * (1 + rate / 100) ** (years - 1),
                      p * (1 + rate / 100) ** (years + 1)),
                f"원리금 = 원금 × (1 + r)^n = {n(p)} × {n(1 + rate / 100)}^{years} = {n(key)}만 원", "만 원", 2,
                inputs={"p": p, "rate": rate, "years": years})


@template("현재가치", "현재가치")
def present_value(r):
    rate = r.choice([5, 10, 20, 25])
    years = r.choice([1, 2])
    pv = 100 * r.randint(1, 8) * (4 if rate == 25 else 1)
    fv = pv * (1 + rate / 100) ** years
    return Calc(f"할인율이 연 {n(rate)}%일 때 {n(years)}년 뒤에 받을 {n(fv)}만 원의 현재가치는?",
                pv, (fv * (1 - rate / 100 * years), fv, fv * (1 + rate / 100), pv * (1 - rate / 100)),
                f"현재가치 = 미래가치 ÷ (1 + 할인율)^기간 = {n(fv)} ÷ {n(1 + rate / 100)}^{years} = {n(pv)}만 원",
                "만 원", 2, inputs={"fv": fv, "rate": rate, "years": years})


# -- 기업·주식 ---------------------------------------------------------------------------------------
@template("PER", "주가수익비율")
def per(r):
    eps = 500 * r.randint(1, 10)
    x = r.choice([5, 8, 10, 12, 15, 20])
    price = eps * x
    bps = eps * r.choice([4, 5, 6, 8])
    return Calc(f"A기업 주가는 {n(price)}원, 주당순이익(EPS)은 {n(eps)}원, 주당순자산(BPS)은 {n(bps)}원이다. PER은?",
                x, (price / bps, eps / price * 100, bps / eps, x / 2),
                f"PER = 주가 ÷ EPS = {n(price)} ÷ {n(eps)} = {n(x)}배",
                "배", 2, inputs={"price": price, "eps": eps, "bps": bps})


@template("PBR", "주가순자산비율")
def pbr(r):
    bps = 5000 * r.randint(1, 8)
    x = r.choice([0.4, 0.5, 0.8, 1.2, 1.5, 2])
    price = bps * x
    eps = bps // r.choice([5, 8, 10])
    return Calc(f"B기업 주가는 {n(price)}원, 주당순자산(BPS)은 {n(bps)}원, 주당순이익(EPS)은 {n(eps)}원이다. PBR은?",
                x, (price / eps, bps / price, (price - bps) / bps, x * 10),
                f"PBR = 주가 ÷ BPS = {n(price)} ÷ {n(bps)} = {n(x)}배 (1보다 작으면 장부가치보다 싸게 거래)", "배", 2,
                inputs={"price": price, "bps": bps, "eps": eps})


@template("ROE", "자기자본이익률")
def roe(r):
    eq = 100 * r.randint(4, 20)
    k = r.choice([4, 5, 8, 10, 12.5, 15])
    ni = eq * k / 100
    debt = 100 * r.randint(2, 20)
    return Calc(f"C기업의 당기순이익은 {n(ni)}억 원, 자기자본은 {n(eq)}억 원, 부채는 {n(debt)}억 원이다. ROE는?",
                k, (ni / (eq + debt) * 100, ni / debt * 100, eq / ni, k / 10),
                f"ROE = 당기순이익 ÷ 자기자본 × 100 = {n(ni)} ÷ {n(eq)} × 100 = {n(k)}% (총자산으로 나누면 ROA)", "%",
                inputs={"ni": ni, "eq": eq, "debt": debt})


@template("ROA", "총자산이익률")
def roa(r):
    assets = 500 * r.randint(2, 12)
    k = r.choice([2, 2.5, 3, 4, 5, 6])
    ni = assets * k / 100
    eq = assets * r.choice([0.25, 0.4, 0.5])
    return Calc(f"D기업의 총자산은 {n(assets)}억 원(그중 자기자본 {n(eq)}억 원), 당기순이익은 {n(ni)}억 원이다. ROA는?",
                k, (ni / eq * 100, ni / (assets - eq) * 100, assets / ni, k * 10),
                f"ROA = 당기순이익 ÷ 총자산 × 100 = {n(ni)} ÷ {n(assets)} × 100 = {n(k)}%", "%",
                inputs={"ni": ni, "assets": assets, "eq": eq})


@template("부채비율", "부채비율")
def debt_ratio(r):
    eq = 100 * r.randint(2, 10)
    k = r.choice([50, 80, 120, 150, 200, 250])
    debt = eq * k / 100
    return Calc(f"E기업의 자산총계는 {n(debt + eq)}억 원, 부채총계는 {n(debt)}억 원이다. 부채비율은?",
                k, (debt / (debt + eq) * 100, eq / debt * 100, eq / (debt + eq) * 100, k / 2),
                f"자기자본 = 자산 − 부채 = {n(eq)}억 원, 부채비율 = 부채 ÷ 자기자본 × 100 = "
                f"{n(debt)} ÷ {n(eq)} × 100 = {n(k)}% (자산으로 나누지 않는다)", "%",
                inputs={"assets": debt + eq, "debt": debt})


@template("유동비율", "유동비율")
def current_ratio(r):
    cl = 100 * r.randint(2, 10)
    k = r.choice([80, 120, 150, 175, 200, 250])
    ca = cl * k / 100
    tl = cl + 100 * r.randint(1, 5)
    return Calc(f"F기업의 유동자산은 {n(ca)}억 원, 유동부채는 {n(cl)}억 원, 부채총계는 {n(tl)}억 원이다. 유동비율은?",
                k, (cl / ca * 100, ca / tl * 100, ca - cl, k / 2),
                f"유동비율 = 유동자산 ÷ 유동부채 × 100 = {n(ca)} ÷ {n(cl)} × 100 = {n(k)}%", "%",
                inputs={"ca": ca, "cl": cl, "tl": tl})


@template("이자보상배율", "이자보상배율")
def interest_coverage(r):
    interest = 10 * r.randint(2, 20)
    k = r.choice([0.5, 0.8, 1.5, 2, 3, 4])
    oi = interest * k
    ni = oi * 0.5
    return Calc(f"G기업의 영업이익은 {n(oi)}억 원, 이자비용은 {n(interest)}억 원, 당기순이익은 {n(ni)}억 원이다. "
                "이자보상배율은?", k, (ni / interest, interest / oi, oi - interest, k * 100),
                f"이자보상배율 = 영업이익 ÷ 이자비용 = {n(oi)} ÷ {n(interest)} = {n(k)}배"
                + (" (1 미만: 영업이익으로 이자도 못 갚는다)" if k < 1 else ""), "배", 2,
                inputs={"oi": oi, "interest": interest, "ni": ni})


@template("배당수익률", "배당수익률")
def dividend_yield(r):
    price = 5000 * r.randint(2, 12)
    k = r.choice([1, 2, 2.5, 4, 5])
    dps = price * k / 100
    eps = dps * r.choice([2, 4, 5])
    return Calc(f"주가 {n(price)}원인 주식의 주당배당금이 {n(dps)}원, 주당순이익이 {n(eps)}원이다. 배당수익률은?",
                k, (dps / eps * 100, price / dps, eps / price * 100, k * 10),
                f"배당수익률 = 주당배당금 ÷ 주가 × 100 = {n(dps)} ÷ {n(price)} × 100 = {n(k)}% "
                "(순이익으로 나누면 배당성향)", "%", inputs={"price": price, "dps": dps, "eps": eps})


@template("배당성향", "배당성향")
def payout_ratio(r):
    ni = 100 * r.randint(2, 20)
    k = r.choice([20, 25, 30, 40, 50])
    div = ni * k / 100
    return Calc(f"H기업의 당기순이익은 {n(ni)}억 원이고 배당금 총액은 {n(div)}억 원이다. 배당성향은?",
                k, (ni / div * 100, 100 - k, div / ni, k / 2),
                f"배당성향 = 배당금 총액 ÷ 당기순이익 × 100 = {n(div)} ÷ {n(ni)} × 100 = {n(k)}%", "%",
                inputs={"ni": ni, "div": div})


# -- 분배·생활 ---------------------------------------------------------------------------------------
@template("엥겔계수", "엥겔계수")
def engel(r):
    spend = 50 * r.randint(4, 10)
    k = r.choice([12, 15, 20, 25, 30, 40])
    food = spend * k / 100
    income = spend + 50 * r.randint(1, 6)
    return Calc(f"한 가구의 월 소득은 {n(income)}만 원, 소비지출은 {n(spend)}만 원, 그중 식료품비는 "
                f"{n(food)}만 원이다. 엥겔계수는?", k,
                (food / income * 100, 100 - k, (spend - food) / income * 100, k / 10),
                f"엥겔계수 = 식료품비 ÷ 총소비지출 × 100 = {n(food)} ÷ {n(spend)} × 100 = {n(k)}% (소득이 아니라 "
                "소비지출로 나눈다)", "%", inputs={"income": income, "spend": spend, "food": food})


@template("지니계수 읽기", "지니계수")
def gini(r):
    g = r.choice([0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.6])
    a = g * 50
    b = 50 - a
    return Calc(f"한 변이 10인 정사각형 그림에서 완전평등선(대각선)과 로렌츠곡선 사이의 면적이 {n(a)}, "
                f"로렌츠곡선 아래의 면적이 {n(b)}이다. 지니계수는?", g, (a / b, 1 - g, a / 100, g * 2),
                f"지니계수 = 평등선과 로렌츠곡선 사이 면적 ÷ 평등선 아래 삼각형 면적 = {n(a)} ÷ ({n(a)} + {n(b)}) "
                f"= {n(g)}",
                "", 2, inputs={"a": a, "b": b})
