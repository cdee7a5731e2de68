import {
  findManagedAttachmentImages,
  managedAttachmentUid,
} from "../../src/domain/markdown/managed-attachment-images.js";
import { analyzeMemoMarkdown, truncateSnippet } from "../../src/domain/markdown/memo-markdown.js";
import { expandTagHierarchy, scanTags } from "../../src/domain/markdown/tag-lexer.js";

/** [content, expected tags]; every example of spec §6.5 plus upstream-style edge cases. */
const TAG_CASES: Array<[string, string[]]> = [
  // spec §6.5, verbatim
  ["#book/fiction #Work #work #A\u200dB https://example.com/#hidden", ["book", "book/fiction", "Work", "work", "AB"]],
  ["/path#plain", ["plain"]],
  ["#first#second", ["first", "second"]],
  ["#tag's", ["tag's"]],
  ["#O’Brien", ["O’Brien"]],
  ["#A\u200dB", ["AB"]],
  ["#R&amp;D", ["R"]],
  ["#R&D", ["R&D"]],
  ["# heading", []],
  ["## x", []],
  ["#", []],
  ["#/x", []],
  ["#'x", []],
  ["&#35;tag", []],
  ["＃tag", []],
  ["\\#tag", []],
  ["#a/b/c", ["a", "a/b", "a/b/c"]],
  ["#Work #work", ["Work", "work"]],
  ["#tag.", ["tag"]],
  ["#tag@x", ["tag"]],
  ["#tag€x", ["tag"]],
  ["#tag²", ["tag"]],
  ["#a/ b", ["a"]],
  ["#a//b", ["a"]],
  ["#" + "a".repeat(150), ["a".repeat(150)]],
  // word characters, scripts, joiners, emoji
  ["Text with #测试。 More", ["测试"]],
  ["#测试test123 content", ["测试test123"]],
  ["#日本語 #한국어 #テスト", ["日本語", "한국어", "テスト"]],
  ["#work/测试/项目", ["work", "work/测试", "work/测试/项目"]],
  ["#work-notes #2024_plans #science&tech #c++", ["work-notes", "2024_plans", "science&tech", "c++"]],
  ["#test🚀 #test👁️", ["test🚀", "test👁️"]],
  ["#👨‍👩‍👧‍👦family", ["👨‍👩‍👧‍👦family"]],
  ["#сім'я #сім’я #сімʼя", ["сім'я", "сім’я", "сімʼя"]],
  ["'#tag' #users' #rock''roll #O‘Brien #A\u200d'B", ["tag", "users", "rock", "O", "A"]],
  ["#cafe\u0301's", ["cafe\u0301's"]],
  ["#café #cafe\u0301", ["café", "cafe\u0301"]],
  ["#AB #A\u200dB #\u0301AB", ["AB"]],
  ["##tag", ["tag"]],
  ["#️⃣", []],
  ["##️⃣", ["#️⃣"]],
  ["#first#️⃣", ["first#️⃣"]],
  ["#book/fiction #book", ["book", "book/fiction"]],
  ["Issue #123", ["123"]],
  ["- Item 1 #todo\n- Item 2 #done", ["todo", "done"]],
  ["## Heading\n\n# Title #intitle\n\nText with #realtag", ["intitle", "realtag"]],
  ["**#strong** ~~#strike~~ _#em_", ["strong", "strike", "em"]],
  ["#_foo_", []],
  ["#_", ["_"]],
  ["#foo_bar", ["foo_bar"]],
  ["> #quoted\n> #second", ["quoted", "second"]],
  ["before  \n#tag", ["tag"]],
  ["| #a | b |\n|---|---|\n| #c | d |", ["a", "c"]],
  // character references and escapes
  ["~#a!&&amp;)*", ["a"]],
  ["#R&bogus;D #Q&amp;&bogus;D", ["R&bogus", "Q"]],
  ["&#x23;other &num;named", []],
  ["\\#tag #foo\\+bar", ["foo"]],
  // ignored contexts: code, links, images, autolinks, linkified URLs and e-mails, HTML, math
  ["`#inline`\n\n```text\n#fenced\n```\n\n    #indented", []],
  ["[#label](https://example.com/#destination) ![#alt](image#fragment)", []],
  ["[release #notes](https://example.com/releases#notes) Outside #memo-tag", ["memo-tag"]],
  ["[reference #anchor][docs]\n\n[docs]: https://example.com/docs#anchor\n\nOutside #memo-tag", ["memo-tag"]],
  ["[#use][bad]\n\n[bad]:(", ["use"]],
  ["<https://example.com/#angle> <custom:foo#custom>", []],
  ["https://github.com/o/r#readme\n\nProject #memo-tag", ["memo-tag"]],
  ["www.example.com/#www and https://example.com/path#url", []],
  ["hellohttps://example.com/#joined", ["joined"]],
  ["foo#mail@example.com", []],
  ["#foo/bar@example.com", ["foo"]],
  ["#foo/bar@example.com_", ["foo", "foo/bar"]],
  ["#foo\\+bar@example.com", []],
  ["#foo&bogus;bar@example.com", ["foo&bogus"]],
  ["<span data-tag=\"#attribute\">#text</span>", ["text"]],
  ["<div>\n#html-block\n</div>", []],
  ["$#math$ #plain", ["plain"]],
  ["$#one$$ #two$ #plain", ["plain"]],
  ["$$#math$ #plain", ["math", "plain"]],
  ["$$\n#math\n$$\n\n#plain", ["plain"]],
  ["$$meta\n#math", []],
  ["> $$\n> #math\noutside #plain", ["plain"]],
  ["```text\n$$\n```\n\n#plain", ["plain"]],
  ["text $ #plain", ["plain"]],
  ["\ufeffhttps://example.com/#hidden #shown", ["shown"]],
];

/**
 * Where micromark's GFM autolink literals differ from upstream's goldmark linkify, pinned so a
 * change is noticed: [content, our tags, upstream's tags].
 */
const LINKIFY_DIFFERENCES: Array<[string, string[], string[]]> = [
  // micromark links a dotless host and an upper-case scheme; goldmark does not.
  ["https://localhost/#local HTTP://example.com/#upper", [], ["local", "upper"]],
  // micromark does not link a Unicode-domain URL right after an unresolved `[`; goldmark does.
  ["[text https://點看.com/#inside", ["inside"], []],
  // micromark resolves the e-mail before emphasis and before the reference joins it.
  ["_foo@example.com #tag_", ["tag_"], ["tag"]],
  ["#foo&#46;bar@example.com", ["foo"], []],
];

describe("memo tags (spec §6.5)", () => {
  test.each(LINKIFY_DIFFERENCES)("linkify difference %j", (content, ours) => {
    expect(analyzeMemoMarkdown(content).tags).toEqual(ours);
  });

  test.each(TAG_CASES)("%j", (content, expected) => {
    expect(analyzeMemoMarkdown(content).tags).toEqual(expected);
  });

  test("hierarchy expansion lists ancestors first", () => {
    expect(expandTagHierarchy("a/b/c")).toEqual(["a", "a/b", "a/b/c"]);
    expect(expandTagHierarchy("solo")).toEqual(["solo"]);
  });

  test("the lexer reports the source span of each tag", () => {
    expect(scanTags("x #a/b. #c")).toEqual([
      { start: 2, end: 6, value: "a/b" },
      { start: 8, end: 10, value: "c" },
    ]);
  });

  test("an opaque (escaped) character neither starts nor continues a tag", () => {
    expect(scanTags("#ab", (i) => i === 0)).toEqual([]);
    expect(scanTags("#ab", (i) => i === 2)).toEqual([{ start: 0, end: 2, value: "a" }]);
  });
});

/** [content, expected property]. */
const PROPERTY_CASES: Array<[string, Partial<ReturnType<typeof analyzeMemoMarkdown>["property"]>]> = [
  ["Just plain text", { hasLink: false, hasCode: false, hasTaskList: false, hasIncompleteTasks: false, title: "" }],
  ["Check out [this link](https://example.com)", { hasLink: true }],
  ["see <https://example.com>", { hasLink: true }],
  ["see www.example.com", { hasLink: true }],
  ["mail me@example.com", { hasLink: true }],
  ["[ref][x]\n\n[x]: /y", { hasLink: true }],
  ["![image only](https://example.com/a.png)", { hasLink: false }],
  ["Use `console.log()` to debug", { hasCode: true }],
  ["```go\nfunc main() {}\n```", { hasCode: true }],
  ["    indented code", { hasCode: true }],
  ["$x$ is math, not code", { hasCode: false }],
  ["- [x] Completed task", { hasTaskList: true, hasIncompleteTasks: false }],
  ["- [ ] Todo item", { hasTaskList: true, hasIncompleteTasks: true }],
  ["- [x] Done\n- [ ] Not done", { hasTaskList: true, hasIncompleteTasks: true }],
  ["- plain item", { hasTaskList: false }],
  ["# Title\n\n[Link](url)\n\n`code`\n\n- [ ] Task", { hasLink: true, hasCode: true, hasTaskList: true, hasIncompleteTasks: true, title: "Title" }],
  ["# My Article Title\n\nBody text here.", { title: "My Article Title" }],
  ["## Sub Heading\n\nBody text.", { title: "" }],
  ["Some text\n\n# Heading Later", { title: "" }],
  ["# Title with **bold** and *italic*\n\nBody.", { title: "Title with bold and italic" }],
  ["Setext Title\n===\n\nbody", { title: "Setext Title" }],
  ["", { title: "" }],
];

describe("memo property (spec §6.5)", () => {
  test.each(PROPERTY_CASES)("%j", (content, expected) => {
    expect(analyzeMemoMarkdown(content).property).toMatchObject(expected);
  });
});

/** [content, expected snippet]. */
const SNIPPET_CASES: Array<[string, string]> = [
  // spec §6.5 and §9, verbatim
  ["Hello world", "Hello world"],
  ["# My Title\n\nThis is the first paragraph.", "My Title This is the first paragraph."],
  ["Hello #world\n\n![p](/file/attachments/pixel)", "Hello #world p"],
  // the rest of the rule
  ["This is **bold** and *italic* text.", "This is bold and italic text."],
  ["Text before\n\n```go\ncode\n```\n\nText after", "Text before Text after"],
  ["- Item 1\n- Item 2\n- Item 3", "Item 1 Item 2 Item 3"],
  ["`console.log('hello')`", "console.log('hello')"],
  ["![alt text](https://example.com/img.png)", "alt text"],
  ["~~deleted text~~", "deleted text"],
  ["> quoted text", "quoted text"],
  ["| a | b |\n|---|---|\n| 1 | 2 |", "a b 1 2"],
  ["Check out https://usememos.com for more info.", "Check out https://usememos.com for more info."],
  ["<https://example.com/a>", "https://example.com/a"],
  ["[link text](https://example.com)", "link text"],
  ["Remember to #review the #code", "Remember to #review the #code"],
  ["#A\u200dB #\u0301foo", "#A\u200dB #\u0301foo"],
  ["line one\nline two", "line one line two"],
  ["hard  \nbreak", "hard break"],
  ["a <b>bold</b> c", "a bold c"],
  ["math $x^2$ here", "math $x^2$ here"],
  ["  \n\n  padded  \n\n", "padded"],
  [
    "This is a very long piece of text that should be truncated at a word boundary, yes indeed.",
    "This is a very long piece of text that should be truncated at a ...",
  ],
  ["x".repeat(70), "x".repeat(64) + " ..."],
  ["界".repeat(65), "界".repeat(64) + " ..."],
];

describe("memo snippet (spec §6.5)", () => {
  test.each(SNIPPET_CASES)("%j", (content, expected) => {
    expect(analyzeMemoMarkdown(content).snippet).toBe(expected);
  });

  test("exactly 64 characters are kept whole", () => {
    expect(truncateSnippet("y".repeat(64))).toBe("y".repeat(64));
  });
});

describe("managed attachment images (spec §6.6)", () => {
  const instance = { instanceUrl: "http://localhost:80" };

  test("image nodes and reference images count, de-duplicated; links, code and other hosts do not", () => {
    const content = [
      "![canonical](/file/attachments/image-one)",
      "![legacy](/file/attachments/image-two/photo.png)",
      "![duplicate](/file/attachments/image-one)",
      "![reference][managed-image]",
      "",
      "[managed-image]: /file/attachments/image-three",
      "![external](https://example.com/file/attachments/external)",
      "`![code](/file/attachments/code-image)`",
      "[a link](/file/attachments/linked)",
    ].join("\n");
    expect(findManagedAttachmentImages(content, instance)).toEqual(["image-one", "image-two", "image-three"]);
  });

  test.each([
    "![query](/file/attachments/image-one?share_token=secret)",
    "![fragment](/file/attachments/image-one#x)",
    "![encoded](/file/attachments/%69mage-two)",
    "![extra](/file/attachments/image-three/file/extra)",
    "![empty name](/file/attachments/image-four/)",
    "![bad uid](/file/attachments/-bad-)",
    "![no uid](/file/attachments/)",
    '<img src="/file/attachments/raw-html">',
    "![protocol relative](//localhost/file/attachments/abc)",
  ])("rejects %j", (content) => {
    expect(() => findManagedAttachmentImages(content, instance)).toThrow(
      expect.objectContaining({ name: "ManagedImageError", message: expect.stringContaining("invalid managed attachment image URL") }),
    );
  });

  test("absolute URLs need a configured instance URL; same origin is managed, others are ignored", () => {
    expect(() => managedAttachmentUid("https://example.com/file/attachments/x")).toThrow(
      "absolute managed attachment image URLs require a configured instance URL",
    );
    expect(managedAttachmentUid("http://localhost/file/attachments/abc/a.png", instance)).toBe("abc");
    expect(managedAttachmentUid("http://localhost:80/file/attachments/abc", instance)).toBe("abc");
    expect(managedAttachmentUid("https://localhost/file/attachments/abc", instance)).toBeUndefined();
    expect(managedAttachmentUid("http://other.example/file/attachments/abc", instance)).toBeUndefined();
    expect(() => managedAttachmentUid("http://localhost/file/attachments/abc?x=1", instance)).toThrow(
      "invalid managed attachment image URL",
    );
  });

  test("protocol-relative URLs are rejected without an instance URL or for its host, ignored for others", () => {
    expect(() => managedAttachmentUid("//cdn.example/file/attachments/abc")).toThrow("invalid managed attachment image URL");
    expect(managedAttachmentUid("//cdn.example/file/attachments/abc", instance)).toBeUndefined();
    expect(managedAttachmentUid("//cdn.example/other/abc")).toBeUndefined();
  });

  test("ordinary image URLs are not managed", () => {
    expect(managedAttachmentUid("/other/path.png")).toBeUndefined();
    expect(managedAttachmentUid("file/attachments/relative")).toBeUndefined();
    expect(managedAttachmentUid("data:image/png;base64,xx")).toBeUndefined();
  });
});
