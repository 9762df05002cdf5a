// Search that ignores Vietnamese diacritics and case: "nguyen van a" finds "Nguyễn Văn A",
// "do" finds "Đỗ" (đ is a letter of its own, not a d with a mark, so NFD does not split it).
export function fold(text) {
  return String(text ?? '').normalize('NFD').replace(/[\u0300-\u036f]/g, '')
    .replace(/đ/g, 'd').replace(/Đ/g, 'd').toLowerCase().replace(/\s+/g, ' ').trim();
}

export function matches(query, ...fields) {
  const q = fold(query);
  if (!q) return true;
  const haystack = fold(fields.filter(Boolean).join(' '));
  return q.split(' ').every((word) => haystack.includes(word));
}
