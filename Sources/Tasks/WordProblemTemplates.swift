/// The story templates of the built-in arithmetic word-problem generator (see `ArithmeticProblems`).
///
/// Every template draws its numbers so that each intermediate result and the answer are positive integers
/// (divisions are exact, subtractions stay above zero). `steps` counts the arithmetic operations of the worked
/// solution. Operands are drawn in 1...maxOperand (counts and multipliers in 2...min(9, maxOperand)).
struct WordProblem: Equatable {
    /// The question text (no instruction suffix).
    var question: String
    /// The worked solution, one calculation per line, ending with `#### answer`.
    var solution: String
    var answer: Int
    /// Which template made it (for tests and statistics).
    var template: String
}

/// A person in a story, with the pronouns the sentences need.
struct Person {
    let name: String
    let subject: String  // she / he
    let object: String  // her / him
    let possessive: String  // her / his

    var Subject: String { subject.prefix(1).uppercased() + subject.dropFirst() }
    var Possessive: String { possessive.prefix(1).uppercased() + possessive.dropFirst() }
}

enum WordProblemTemplates {
    static let people: [Person] = [
        ("Ava", true), ("Ben", false), ("Chloe", true), ("Daniel", false), ("Emma", true), ("Farid", false),
        ("Grace", true), ("Hugo", false), ("Isla", true), ("Jamal", false), ("Keiko", true), ("Liam", false),
        ("Maya", true), ("Noah", false), ("Olivia", true), ("Pablo", false), ("Rosa", true), ("Sam", false),
        ("Tara", true), ("Victor", false), ("Wendy", true), ("Yusuf", false), ("Zoe", true), ("Omar", false),
    ].map { name, female in
        Person(name: name, subject: female ? "she" : "he", object: female ? "her" : "him",
               possessive: female ? "her" : "his")
    }

    /// Things people collect (plural, singular).
    static let collectibles: [(String, String)] = [
        ("apples", "apple"), ("marbles", "marble"), ("stickers", "sticker"), ("cookies", "cookie"),
        ("pencils", "pencil"), ("stamps", "stamp"), ("shells", "shell"), ("books", "book"), ("coins", "coin"),
        ("cards", "card"), ("balloons", "balloon"), ("crayons", "crayon"),
    ]

    /// Things sold in shops (plural, singular).
    static let goods: [(String, String)] = [
        ("notebooks", "notebook"), ("pens", "pen"), ("sandwiches", "sandwich"), ("toy cars", "toy car"),
        ("mugs", "mug"), ("plants", "plant"), ("tickets", "ticket"), ("bags of rice", "bag of rice"),
        ("T-shirts", "T-shirt"), ("puzzles", "puzzle"),
    ]

    static let vehicles = ["car", "train", "bus", "cyclist", "boat", "truck"]
    static let relatives = ["brother", "sister", "cousin", "uncle", "aunt"]

    /// The fixed-shape templates, by their number of steps.
    static let fixed: [Int: [(String, (inout ProblemRandom, Int) -> WordProblem)]] = [
        1: [("shopping", shopping1), ("sharing", sharing1), ("rates", rates1), ("ages", ages1)],
        2: [("shopping", shopping2), ("change", change2), ("ages", ages2), ("baking", baking2), ("reading", reading2),
            ("sharing", sharing2)],
        3: [("shopping", shopping3), ("rates", rates3), ("saving", saving3)],
        4: [("change", change4)],
    ]

    static func counter(_ max: Int) -> ClosedRange<Int> { 2 ... Swift.max(2, Swift.min(9, max)) }

    // MARK: one step

    static func shopping1(_ r: inout ProblemRandom, _ max: Int) -> WordProblem {
        let p = r.pick(people), (items, item) = r.pick(goods)
        let price = r.int(1, max), k = r.int(counter(max))
        let total = price * k
        return WordProblem(
            question: "One \(item) costs $\(price). \(p.name) buys \(k) \(items). How many dollars does \(p.name) spend?",
            solution: "\(k) \(items) cost \(k) * \(price) = \(total) dollars.\n#### \(total)", answer: total, template: "shopping")
    }

    static func sharing1(_ r: inout ProblemRandom, _ max: Int) -> WordProblem {
        let p = r.pick(people), (items, _) = r.pick(collectibles)
        let k = r.int(counter(max)), each = r.int(1, max)
        let total = k * each
        return WordProblem(
            question: "\(p.name) has \(total) \(items) and shares them equally among \(k) friends. How many \(items) does each friend get?",
            solution: "Each friend gets \(total) / \(k) = \(each) \(items).\n#### \(each)", answer: each, template: "sharing")
    }

    static func rates1(_ r: inout ProblemRandom, _ max: Int) -> WordProblem {
        let v = r.pick(vehicles)
        let speed = r.int(2, max), hours = r.int(counter(max))
        let d = speed * hours
        return WordProblem(
            question: "A \(v) travels \(speed) miles every hour. How many miles does it travel in \(hours) hours?",
            solution: "In \(hours) hours it travels \(speed) * \(hours) = \(d) miles.\n#### \(d)", answer: d, template: "rates")
    }

    static func ages1(_ r: inout ProblemRandom, _ max: Int) -> WordProblem {
        let p = r.pick(people)
        let age = r.int(2, max), later = r.int(1, max)
        let a = age + later
        return WordProblem(
            question: "\(p.name) is \(age) years old. How old will \(p.subject) be in \(later) years?",
            solution: "In \(later) years \(p.subject) will be \(age) + \(later) = \(a) years old.\n#### \(a)", answer: a, template: "ages")
    }

    // MARK: two steps

    static func shopping2(_ r: inout ProblemRandom, _ max: Int) -> WordProblem {
        let p = r.pick(people)
        let (items, _) = r.pick(goods)
        var (otherItems, other) = r.pick(goods)
        while otherItems == items { (otherItems, other) = r.pick(goods) }
        let k = r.int(counter(max)), price = r.int(1, max), extra = r.int(1, max)
        let part = k * price, total = part + extra
        return WordProblem(
            question: "\(p.name) buys \(k) \(items) for $\(price) each and one \(other) for $\(extra). How many dollars does \(p.subject) spend in total?",
            solution: "The \(items) cost \(k) * \(price) = \(part) dollars.\nIn total \(p.subject) spends \(part) + \(extra) = \(total) dollars.\n#### \(total)",
            answer: total, template: "shopping")
    }

    static func change2(_ r: inout ProblemRandom, _ max: Int) -> WordProblem {
        let p = r.pick(people), (items, _) = r.pick(goods)
        let k = r.int(counter(max)), price = r.int(1, max)
        let cost = k * price
        let bill = [5, 10, 20, 50, 100, 200, 500, 1000].first { $0 > cost } ?? (cost / 1000 + 1) * 1000
        let change = bill - cost
        return WordProblem(
            question: "\(p.name) buys \(k) \(items) at $\(price) each and pays with a $\(bill) bill. How many dollars of change does \(p.subject) get?",
            solution: "The \(items) cost \(k) * \(price) = \(cost) dollars.\nThe change is \(bill) - \(cost) = \(change) dollars.\n#### \(change)",
            answer: change, template: "change")
    }

    static func ages2(_ r: inout ProblemRandom, _ max: Int) -> WordProblem {
        let p = r.pick(people), relative = r.pick(relatives)
        let age = r.int(2, max), older = r.int(1, max), later = r.int(1, max)
        let theirs = age + older, answer = theirs + later
        return WordProblem(
            question: "\(p.name) is \(age) years old. \(p.Possessive) \(relative) is \(older) years older than \(p.object). How old will \(p.possessive) \(relative) be in \(later) years?",
            solution: "\(p.Possessive) \(relative) is \(age) + \(older) = \(theirs) years old.\nIn \(later) years the \(relative) will be \(theirs) + \(later) = \(answer) years old.\n#### \(answer)",
            answer: answer, template: "ages")
    }

    static func baking2(_ r: inout ProblemRandom, _ max: Int) -> WordProblem {
        let p = r.pick(people)
        let friends = r.int(counter(max)), trays = r.int(counter(max))
        // trays × perTray must be a multiple of friends: draw perTray as a multiple of friends / gcd(trays, friends).
        let step = friends / gcd(trays, friends)
        let perTray = step * r.int(1, Swift.max(1, max / step))
        let total = trays * perTray, each = total / friends
        return WordProblem(
            question: "\(p.name) bakes \(trays) trays of cookies with \(perTray) cookies on each tray. \(p.Subject) shares all the cookies equally among \(friends) friends. How many cookies does each friend get?",
            solution: "\(p.Subject) bakes \(trays) * \(perTray) = \(total) cookies.\nEach friend gets \(total) / \(friends) = \(each) cookies.\n#### \(each)",
            answer: each, template: "baking")
    }

    static func reading2(_ r: inout ProblemRandom, _ max: Int) -> WordProblem {
        let p = r.pick(people)
        let perDay = r.int(2, max), days = r.int(counter(max)), left = r.int(1, max)
        let read = perDay * days, pages = read + left
        return WordProblem(
            question: "A book has \(pages) pages. \(p.name) reads \(perDay) pages every day for \(days) days. How many pages are left to read?",
            solution: "\(p.Subject) reads \(perDay) * \(days) = \(read) pages.\nThere are \(pages) - \(read) = \(left) pages left.\n#### \(left)",
            answer: left, template: "reading")
    }

    static func sharing2(_ r: inout ProblemRandom, _ max: Int) -> WordProblem {
        let p = r.pick(people), (items, _) = r.pick(collectibles)
        let friends = r.int(counter(max)), each = r.int(1, max), kept = r.int(1, max)
        let rest = friends * each, total = rest + kept
        return WordProblem(
            question: "\(p.name) has \(total) \(items). \(p.Subject) keeps \(kept) for \(p.object)self and shares the rest equally among \(friends) friends. How many \(items) does each friend get?",
            solution: "\(p.Subject) shares \(total) - \(kept) = \(rest) \(items).\nEach friend gets \(rest) / \(friends) = \(each) \(items).\n#### \(each)",
            answer: each, template: "sharing")
    }

    // MARK: three and four steps

    static func shopping3(_ r: inout ProblemRandom, _ max: Int) -> WordProblem {
        let p = r.pick(people)
        let (items1, _) = r.pick(goods)
        var (items2, _) = r.pick(goods)
        while items2 == items1 { items2 = r.pick(goods).0 }
        let k1 = r.int(counter(max)), p1 = r.int(1, max), k2 = r.int(counter(max)), p2 = r.int(1, max)
        let c1 = k1 * p1, c2 = k2 * p2, total = c1 + c2
        return WordProblem(
            question: "\(p.name) buys \(k1) \(items1) at $\(p1) each and \(k2) \(items2) at $\(p2) each. How many dollars does \(p.subject) spend?",
            solution: "The \(items1) cost \(k1) * \(p1) = \(c1) dollars.\nThe \(items2) cost \(k2) * \(p2) = \(c2) dollars.\nIn total \(p.subject) spends \(c1) + \(c2) = \(total) dollars.\n#### \(total)",
            answer: total, template: "shopping")
    }

    static func rates3(_ r: inout ProblemRandom, _ max: Int) -> WordProblem {
        let v = r.pick(vehicles)
        let s1 = r.int(2, max), h1 = r.int(counter(max)), s2 = r.int(2, max), h2 = r.int(counter(max))
        let d1 = s1 * h1, d2 = s2 * h2, d = d1 + d2
        return WordProblem(
            question: "A \(v) travels at \(s1) miles per hour for \(h1) hours and then at \(s2) miles per hour for \(h2) hours. How many miles does it travel in all?",
            solution: "First it travels \(s1) * \(h1) = \(d1) miles.\nThen it travels \(s2) * \(h2) = \(d2) miles.\nIn all it travels \(d1) + \(d2) = \(d) miles.\n#### \(d)",
            answer: d, template: "rates")
    }

    static func saving3(_ r: inout ProblemRandom, _ max: Int) -> WordProblem {
        let p = r.pick(people), (_, item) = r.pick(goods)
        let start = r.int(1, max), weekly = r.int(1, max), weeks = r.int(counter(max))
        let saved = weekly * weeks, total = start + saved
        let price = r.int(1, total - 1)  // total >= 3, so 1 <= price < total
        let left = total - price
        return WordProblem(
            question: "\(p.name) has $\(start) in a piggy bank. \(p.Subject) saves $\(weekly) every week for \(weeks) weeks, then spends $\(price) on a \(item). How many dollars does \(p.subject) have left?",
            solution: "\(p.Subject) saves \(weekly) * \(weeks) = \(saved) dollars.\n\(p.Subject) then has \(start) + \(saved) = \(total) dollars.\nAfter buying the \(item) \(p.subject) has \(total) - \(price) = \(left) dollars.\n#### \(left)",
            answer: left, template: "saving")
    }

    static func change4(_ r: inout ProblemRandom, _ max: Int) -> WordProblem {
        let p = r.pick(people)
        let (items1, _) = r.pick(goods)
        var (items2, _) = r.pick(goods)
        while items2 == items1 { items2 = r.pick(goods).0 }
        let k1 = r.int(counter(max)), p1 = r.int(1, max), k2 = r.int(counter(max)), p2 = r.int(1, max)
        let c1 = k1 * p1, c2 = k2 * p2, cost = c1 + c2
        let bill = [10, 20, 50, 100, 200, 500, 1000].first { $0 > cost } ?? (cost / 1000 + 1) * 1000
        let change = bill - cost
        return WordProblem(
            question: "\(p.name) buys \(k1) \(items1) at $\(p1) each and \(k2) \(items2) at $\(p2) each. \(p.Subject) pays with a $\(bill) bill. How many dollars of change does \(p.subject) get?",
            solution: "The \(items1) cost \(k1) * \(p1) = \(c1) dollars.\nThe \(items2) cost \(k2) * \(p2) = \(c2) dollars.\nTogether they cost \(c1) + \(c2) = \(cost) dollars.\nThe change is \(bill) - \(cost) = \(change) dollars.\n#### \(change)",
            answer: change, template: "change")
    }

    // MARK: chains of any length

    /// A collection that changes `steps` times (add, take away, double/triple, split into equal groups and keep
    /// one); the question asks for the final count. Values stay in 1...(largest), largest = max(100, 10·maxOperand).
    static func chain(_ r: inout ProblemRandom, steps: Int, max: Int) -> WordProblem {
        let p = r.pick(people), (items, item) = r.pick(collectibles)
        func things(_ n: Int) -> String { n == 1 ? item : items }
        let largest = Swift.max(100, 10 * max)
        var value = r.int(2, max)
        var sentences = ["\(p.name) has \(value) \(items)."]
        var lines = ["\(p.name) starts with \(value) \(items)."]
        for _ in 0 ..< steps {
            var options = ["add"]
            if value >= 2 { options.append("subtract") }
            if value * 2 <= largest { options.append("multiply") }
            let divisors = (2 ... 5).filter { value % $0 == 0 && value / $0 >= 1 }
            if !divisors.isEmpty { options.append("divide") }
            switch r.pick(options) {
            case "add":
                let b = r.int(1, max)
                let phrase = r.pick(["\(p.Subject) buys \(b) more \(items).", "\(p.Subject) finds \(b) more \(items).",
                                     "A friend gives \(p.object) \(b) \(items).", "\(p.Subject) wins \(b) more \(items) at a fair."])
                sentences.append(phrase)
                lines.append("Adding \(b) gives \(value) + \(b) = \(value + b) \(things(value + b)).")
                value += b
            case "subtract":
                let b = r.int(1, Swift.min(max, value - 1))
                let phrase = r.pick(["\(p.Subject) gives \(b) \(items) to \(p.possessive) friend.", "\(p.Subject) loses \(b) \(items).",
                                     "\(p.Subject) sells \(b) of the \(items)."])
                sentences.append(phrase)
                lines.append("Taking away \(b) leaves \(value) - \(b) = \(value - b) \(things(value - b)).")
                value -= b
            case "multiply":
                let k = value * 3 <= largest ? r.int(2, 3) : 2
                sentences.append("Then the number of \(items) \(p.subject) has \(k == 2 ? "doubles" : "triples").")
                lines.append("Multiplying by \(k) gives \(value) * \(k) = \(value * k) \(items).")
                value *= k
            default:
                let k = r.pick(divisors)
                sentences.append("\(p.Subject) splits the \(items) into \(k) equal groups and keeps only one group.")
                lines.append("One group holds \(value) / \(k) = \(value / k) \(things(value / k)).")
                value /= k
            }
        }
        sentences.append("How many \(items) does \(p.name) have now?")
        lines.append("#### \(value)")
        return WordProblem(question: sentences.joined(separator: " "), solution: lines.joined(separator: "\n"),
                           answer: value, template: "chain")
    }

    static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}
