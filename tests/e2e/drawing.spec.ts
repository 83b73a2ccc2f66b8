/**
 * C5 pointer and drawing in real Chromium: agent, customer (on a phone-sized screen) and two joined
 * parties in their own contexts. A stroke drawn on the phone lands on the same spot of the desktops'
 * surfaces, in the drawer's colour as shown in "Participants"; live pointers carry names; Undo takes
 * back one's own last stroke only; a late joiner sees the drawing; the agent clears it.
 */
import { expect, expectEveryoneSees, joinWithHandle, openJoinUs, participant, reserveHandle, signInAgent, startSession, test, uid } from './support/app';
import { drawingRegion, strokeBoxes, strokes, trace } from './support/collab';
import { shoot, shootPhoneTab } from './support/screens';

const PHONE = { width: 390, height: 844 };

test('[C5] strokes and pointers reach everyone at the same relative place; undo is one’s own, clear is the agent’s, a late joiner sees the drawing', async ({ open }) => {
  const tag = uid();
  const customerName = `Iris ${tag}`;
  const agent = await open('agent');
  const customer = await open('customer', { viewport: PHONE });
  const nina = await open('nina');

  await signInAgent(agent, 'xena');
  await startSession(agent, customer, customerName);
  await openJoinUs(agent);
  await joinWithHandle(nina, 'Nina', await reserveHandle(agent, `nina-${tag}`));
  await expectEveryoneSees([agent, nina], ['Nina joined the session with a handle']);

  // Colours by joining order, shown in Participants: agent blue, customer orange, Nina green.
  await expect(participant(agent, customerName).getByRole('img', { name: 'colour Orange' })).toBeVisible();
  await expect(participant(nina, 'Nina').getByRole('img', { name: 'colour Green' })).toBeVisible();

  // The customer draws on the phone: a horizontal line through the middle.
  await customer.getByRole('tab', { name: /^Drawing/ }).click();
  const draw = drawingRegion(customer).getByRole('button', { name: 'Draw', exact: true });
  await draw.click();
  await expect(draw).toHaveAttribute('aria-pressed', 'true');
  await trace(customer, [[0.25, 0.5], [0.5, 0.5], [0.75, 0.5]], true);
  for (const p of [agent, nina]) {
    await expect(strokes(p)).toHaveCount(1);
    const [box] = await strokeBoxes(p);
    expect(box!.colour).toBe('#e66100');
    expect(box!.x0).toBeCloseTo(0.25, 1);
    expect(box!.x1).toBeCloseTo(0.75, 1);
    expect(box!.y0).toBeCloseTo(0.5, 1);
  }

  // Nina's pointer, with her name, where her mouse is, for the others; gone when she leaves.
  await trace(nina, [[0.1, 0.1], [0.6, 0.3]], false);
  const pointer = drawingRegion(agent).getByRole('img', { name: "Nina's pointer" });
  await expect(pointer).toBeVisible();
  await expect(pointer).toContainText('Nina');
  await expect
    .poll(async () => {
      const [s, p] = [await drawingRegion(agent).getByTestId('drawing-surface').boundingBox(), await pointer.boundingBox()];
      return s && p ? [Math.round(((p.x - s.x) / s.width) * 10) / 10, Math.round(((p.y - s.y) / s.height) * 10) / 10] : null;
    })
    .toEqual([0.6, 0.3]);
  await shoot(agent, '29-agent-drawing-pointer');
  await nina.mouse.move(5, 5);
  await expect(pointer).toHaveCount(0);

  // Nina draws too; the customer's Undo takes back the customer's stroke only.
  await drawingRegion(nina).getByRole('button', { name: 'Draw', exact: true }).click();
  await trace(nina, [[0.2, 0.2], [0.3, 0.8]], true);
  for (const p of [agent, customer]) await expect(strokes(p)).toHaveCount(2);
  await drawingRegion(customer).getByRole('button', { name: 'Undo', exact: true }).click();
  for (const p of [agent, customer, nina]) {
    await expect(strokes(p)).toHaveCount(1);
    expect((await strokeBoxes(p))[0]!.colour).toBe('#1a8a4a');
  }
  await expect(drawingRegion(customer).getByRole('button', { name: 'Undo', exact: true })).toBeDisabled();

  // A late joiner sees the drawing as it stands.
  const omar = await open('omar');
  await openJoinUs(agent);
  await joinWithHandle(omar, 'Omar', await reserveHandle(agent, `omar-${tag}`));
  await expect(strokes(omar)).toHaveCount(1);
  await shootPhoneTab(customer, 'Drawing', '30-customer-drawing-tab');

  // Only the agent clears; everyone's drawing empties and the transcript says so.
  await expect(drawingRegion(customer).getByRole('button', { name: 'Clear drawing' })).toHaveCount(0);
  await expect(drawingRegion(nina).getByRole('button', { name: 'Clear drawing' })).toHaveCount(0);
  await drawingRegion(agent).getByRole('button', { name: 'Clear drawing', exact: true }).click();
  for (const p of [agent, customer, nina, omar]) await expect(strokes(p)).toHaveCount(0);
  await expectEveryoneSees([agent, nina, omar], ['xena cleared the drawing']);
});
