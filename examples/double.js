// A job: its default export is called with the arguments and awaited.
export default async function double(x) {
  await new Promise((resolve) => setTimeout(resolve, 10));
  return { input: x, doubled: x * 2 };
}
