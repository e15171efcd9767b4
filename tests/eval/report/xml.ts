/**
 * A small XML well-formedness check for the tests (no XML parser is a dependency): every tag is
 * well-formed with quoted attributes, tags nest and close, one root element, `&` only starts an entity.
 */
const TAG = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/y;
const ENTITY = /&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);/y;

/** Throws an Error saying where the first problem is; returns the root element's name. */
export function assertWellFormedXml(text: string): string {
  const stack: string[] = [];
  let root: string | undefined;
  let position = 0;
  while (position < text.length) {
    const character = text[position];
    if (character === "<") {
      if (text.startsWith("<?", position) || text.startsWith("<!--", position)) {
        const end = text.indexOf(text.startsWith("<?", position) ? "?>" : "-->", position);
        if (end < 0) throw new Error(`unterminated declaration or comment at ${position}`);
        position = end + 2;
        continue;
      }
      TAG.lastIndex = position;
      const match = TAG.exec(text);
      if (match === null) throw new Error(`malformed tag at ${position}: ${text.slice(position, position + 60)}`);
      const [whole, closing, name, , selfClosing] = match;
      if (closing === "/") {
        const open = stack.pop();
        if (open !== name) throw new Error(`</${name}> at ${position} closes <${open}>`);
      } else {
        if (stack.length === 0) {
          if (root !== undefined) throw new Error(`second root element <${name}> at ${position}`);
          root = name;
        }
        if (selfClosing !== "/") stack.push(name as string);
      }
      position += whole.length;
    } else if (character === "&") {
      ENTITY.lastIndex = position;
      if (ENTITY.exec(text) === null) throw new Error(`bare & at ${position}`);
      position += 1;
    } else {
      if (stack.length === 0 && character !== undefined && !/\s/.test(character)) {
        throw new Error(`text outside the root element at ${position}`);
      }
      position += 1;
    }
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.at(-1)}>`);
  if (root === undefined) throw new Error("no root element");
  return root;
}
