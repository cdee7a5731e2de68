import { extractMentions } from "../../src/domain/markdown/mentions.js";
import { parseMemoMarkdown } from "../../src/domain/markdown/memo-markdown.js";

const mentions = (content: string) => extractMentions(parseMemoMarkdown(content));

describe("extractMentions (the reference's vectors and Markdown contexts)", () => {
  test.each([
    ["valid shapes", "@alice @Alice-2 @123 @123-456", ["alice", "Alice-2", "123", "123-456"]],
    ["longest username", `@a${"b".repeat(35)}`, [`a${"b".repeat(35)}`]],
    ["too long is not cut short", `@a${"b".repeat(36)}`, []],
    ["invalid shapes", "@-alice @alice- @álîçé", []],
    ["a username character before @", "hello@alice foo-@bob foo_@carol", ["carol"]],
    ["non-ASCII before @", "中文@alice", ["alice"]],
    ["right boundaries", "@alice_smith @bob@carol", ["alice", "bob"]],
    ["punctuation", "(@alice), @bob.", ["alice", "bob"]],
    ["escaped", "\\@alice @bob", ["bob"]],
    ["deduplicated, case-sensitive", "@bob @Bob @bob", ["bob", "Bob"]],
    ["code", "`@alice` and\n\n```\n@bob\n```\n", []],
    ["links and e-mail addresses", "[@alice](https://x.y/@bob) carol@example.com <dave@example.com>", []],
    ["after emphasis (punctuation is a boundary)", "**hi**@alice *x* @bob", ["alice", "bob"]],
    ["in lists and quotes", "- @alice\n> @bob", ["alice", "bob"]],
  ])("%s", (_label, content, expected) => {
    expect(mentions(content)).toEqual(expected);
  });
});
