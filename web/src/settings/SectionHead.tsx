import { Plus } from "lucide-react";

interface Props {
  id?: string;
  title: string;
  hint: string;
  addLabel: string;
  /** While the add form is open, its button is not shown. */
  adding: boolean;
  onAdd(): void;
}

/** The top of a part of Integrations: what it is in a line, and its Add button. */
export function SectionHead({ id, title, hint, addLabel, adding, onAdd }: Props) {
  return (
    <div className="integrations-head">
      <div>
        <h3 id={id}>{title}</h3>
        <p className="hint">{hint}</p>
      </div>
      {!adding && (
        <button type="button" className="add-endpoint" onClick={onAdd}>
          <Plus size={16} aria-hidden="true" /> {addLabel}
        </button>
      )}
    </div>
  );
}
